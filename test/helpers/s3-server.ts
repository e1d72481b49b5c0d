/**
 * Starts a real S3-compatible server for tests: versitygw (installed by `npm run setup:peers` into
 * .peers/bin) in posix mode on 127.0.0.1, a random free port, a fresh temp root and fixed test credentials,
 * with one fresh bucket created through walship's own S3 client.
 *
 * The posix backend keeps object metadata (x-amz-meta-*) in extended attributes, so the root must be on a
 * filesystem with user xattrs (ext4/xfs/btrfs/tmpfs; the default temp dir here is fine). Set
 * WALSHIP_S3_ROOT to a directory on such a filesystem if the default temp dir lacks them.
 *
 * Without the binary: in CI (CI=true) this throws, because CI must never skip; elsewhere it returns
 * { skip } so a test can call t.skip(reason).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";

export const TEST_ACCESS_KEY_ID = "WALSHIPTESTKEY";
export const TEST_SECRET_ACCESS_KEY = "walship-test-secret-0123456789abcdef";

/** Ready means the port accepts connections; versitygw starts in well under a second. */
const STARTUP_TIMEOUT_MS = 20_000;

export interface S3TestServer {
  /** "http://127.0.0.1:PORT". */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The server's data root (bucket = a directory below it). */
  root: string;
  /** "s3://<bucket>/<path>?endpoint=<endpoint>&region=us-east-1". */
  url(path: string): string;
  /** Options for new S3ReplicaClient({...server.clientOptions(path)}). */
  clientOptions(path: string): {
    bucket: string;
    path: string;
    endpoint: string;
    region: string;
    forcePathStyle: boolean;
    accessKeyId: string;
    secretAccessKey: string;
  };
  /** Freezes the server (SIGSTOP): connections are accepted by the kernel but never answered. */
  pause(): void;
  /** Thaws a paused server (SIGCONT). */
  resume(): void;
  /** Creates another empty bucket and returns its name. */
  createBucket(name?: string): Promise<string>;
  stop(): Promise<void>;
}

export function versitygwPath(): string {
  return (
    process.env.WALSHIP_VERSITYGW ?? fileURLToPath(new URL("../../.peers/bin/versitygw", import.meta.url))
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.connect(port, "127.0.0.1");
  });
}

/** Runs "$@" (the server); stops it on stdin EOF; exits with it. */
// (Background jobs of a non-interactive shell get /dev/null as stdin, hence the copy of stdin on fd 3.)
const WATCHDOG =
  'exec 3<&0; "$@" </dev/null 3<&- & pid=$!; (cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null) & exec 3<&-; wait "$pid"';

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function launch(
  bin: string,
  root: string,
): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  let lastError = "";
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    let log = "";
    const args = [
      "--access",
      TEST_ACCESS_KEY_ID,
      "--secret",
      TEST_SECRET_ACCESS_KEY,
      "--port",
      `127.0.0.1:${port}`,
      "--region",
      "us-east-1",
      "--keep-alive",
      "--quiet",
      "posix",
      root,
    ];
    // A watchdog shell owns the server: it exits when the server does, and stops the server when its stdin
    // closes, which also happens when this test process dies without calling stop(). No orphaned servers.
    const child = spawn("/bin/sh", ["-c", WATCHDOG, "versitygw-watchdog", bin, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const keep = (d: Buffer) => {
      log = (log + d.toString("utf8")).slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline && !exited) {
      if (await canConnect(port)) return { child, port, log: () => log };
      await new Promise((r) => setTimeout(r, 50));
    }
    child.stdin?.end();
    lastError = exited
      ? `versitygw exited during startup: ${log}`
      : `versitygw did not listen within ${STARTUP_TIMEOUT_MS} ms: ${log}`;
    if (!exited) killGroup(child);
  }
  throw new Error(lastError);
}

export async function startS3Server(): Promise<S3TestServer | { skip: string }> {
  const bin = versitygwPath();
  if (!existsSync(bin)) {
    const reason = `versitygw not installed (${bin}): run npm run setup:peers`;
    if (process.env.CI === "true") throw new Error(`${reason} (CI must not skip S3 tests)`);
    return { skip: "versitygw not installed: run npm run setup:peers" };
  }
  const root = await mkdtemp(join(process.env.WALSHIP_S3_ROOT ?? tmpdir(), "walship-s3-"));
  const { child, port } = await launch(bin, root);
  const endpoint = `http://127.0.0.1:${port}`;
  const region = "us-east-1";
  const admin = (bucket: string) =>
    new S3ReplicaClient({
      bucket,
      path: "admin",
      endpoint,
      region,
      forcePathStyle: true,
      accessKeyId: TEST_ACCESS_KEY_ID,
      secretAccessKey: TEST_SECRET_ACCESS_KEY,
    });
  const createBucket = async (name?: string): Promise<string> => {
    const bucket = name ?? `walship-${randomBytes(5).toString("hex")}`;
    const c = admin(bucket);
    try {
      await c.createBucket();
    } finally {
      await c.close();
    }
    return bucket;
  };
  let bucket: string;
  try {
    bucket = await createBucket();
  } catch (e) {
    killGroup(child);
    await rm(root, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  return {
    endpoint,
    bucket,
    region,
    accessKeyId: TEST_ACCESS_KEY_ID,
    secretAccessKey: TEST_SECRET_ACCESS_KEY,
    root,
    url: (path: string) => `s3://${bucket}/${path}?endpoint=${encodeURIComponent(endpoint)}&region=${region}`,
    clientOptions: (path: string) => ({
      bucket,
      path,
      endpoint,
      region,
      forcePathStyle: true,
      accessKeyId: TEST_ACCESS_KEY_ID,
      secretAccessKey: TEST_SECRET_ACCESS_KEY,
    }),
    createBucket,
    pause() {
      if (child.pid) process.kill(-child.pid, "SIGSTOP");
    },
    resume() {
      if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGCONT");
    },
    async stop() {
      if (stopped) return;
      if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGCONT");
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.stdin?.end(); // the watchdog sends SIGTERM to the server
        const timer = setTimeout(() => killGroup(child), 5_000);
        await exited;
        clearTimeout(timer);
      }
      child.stdin?.destroy();
      await rm(root, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
