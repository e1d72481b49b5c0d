/**
 * Interop with the real Litestream v0.5.17 CLI (installed by `npm run setup:peers`), on a file replica and
 * on S3 (versitygw):
 * - Litestream restores what walship's replica clients wrote (the key layouts are right);
 * - Litestream reads walship's x-amz-meta-litestream-timestamp (timestamp restore picks the snapshot by it);
 * - walship lists, timestamps and reads what `litestream replicate` wrote.
 * Missing binaries skip locally and fail in CI (CI=true).
 */

import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { type S3TestServer, startS3Server } from "../helpers/s3-server.js";

const LITESTREAM =
  process.env.WALSHIP_LITESTREAM ?? fileURLToPath(new URL("../../.peers/bin/litestream", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../fixtures/ltx/", import.meta.url));
// A Go-written snapshot (TXIDs 1-d, no checksum tracking, so Litestream's restore accepts it) and the
// database it decodes to.
const SNAPSHOT = join(FIXTURES, "generated/v3-snapshot-sqlite-4096x10-nochecksum.ltx");
const DATABASE = join(FIXTURES, "litestream/testdata/store/open-and-write-snapshot/dbs/sqlite.db/database");

function litestreamEnv(server?: S3TestServer): NodeJS.ProcessEnv {
  // AWS_CA_BUNDLE makes the Go SDK refuse Litestream's custom HTTP client; the tests use plain http.
  const { AWS_CA_BUNDLE: _drop, ...env } = process.env;
  if (server) {
    env.AWS_ACCESS_KEY_ID = server.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
  }
  return env;
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(LITESTREAM, args, { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const missing = !existsSync(LITESTREAM)
  ? `litestream not installed (${LITESTREAM}): run npm run setup:peers`
  : undefined;
if (missing && process.env.CI === "true") throw new Error(`${missing} (CI must not skip)`);

describe("interop with Litestream v0.5.17", { skip: missing }, () => {
  let server: S3TestServer | { skip: string };
  let dir: string;
  before(async () => {
    server = await startS3Server();
    dir = await mkdtemp(join(tmpdir(), "walship-interop-"));
  });
  after(async () => {
    if (server && !("skip" in server)) await server.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const s3 = (t: { skip: (m: string) => void }): S3TestServer | undefined => {
    if ("skip" in server) {
      t.skip(server.skip);
      return undefined;
    }
    return server;
  };

  it("restores a file replica walship wrote", async () => {
    const root = join(dir, "file-replica");
    const client = new FileReplicaClient(root);
    await client.write(9, 1n, 0xdn, await readFile(SNAPSHOT), { timestamp: 1_700_000_000_000 });
    const out = join(dir, "restored-file.db");
    const r = await run(["restore", "-o", out, `file://${root}`], litestreamEnv());
    assert.ok(r.ok, r.stderr);
    assert.deepEqual(await readFile(out), await readFile(DATABASE));
  });

  it("restores and lists an S3 replica walship wrote", async (t) => {
    const srv = s3(t);
    if (!srv) return;
    const client = new S3ReplicaClient(srv.clientOptions("restore-me"));
    try {
      await client.write(9, 1n, 0xdn, await readFile(SNAPSHOT), { timestamp: 1_700_000_000_000 });
      const ls = await run(["ltx", "-level", "all", "-json", srv.url("restore-me")], litestreamEnv(srv));
      assert.ok(ls.ok, ls.stderr);
      const listed = JSON.parse(ls.stdout) as Array<{
        level: number;
        min_txid: string;
        max_txid: string;
        size: number;
      }>;
      assert.deepEqual(
        listed.map((f) => [f.level, f.min_txid, f.max_txid, f.size]),
        [[9, "0000000000000001", "000000000000000d", 2217]],
      );
      const out = join(dir, "restored-s3.db");
      const r = await run(["restore", "-o", out, srv.url("restore-me")], litestreamEnv(srv));
      assert.ok(r.ok, r.stderr);
      assert.deepEqual(await readFile(out), await readFile(DATABASE));
    } finally {
      await client.close();
    }
  });

  it("Litestream plans a timestamp restore by walship's litestream-timestamp metadata", async (t) => {
    const srv = s3(t);
    if (!srv) return;
    const snapshot = await readFile(SNAPSHOT);
    // A: written by walship, timestamps in 2020 (the metadata), LastModified = now.
    const a = new S3ReplicaClient(srv.clientOptions("ts-walship"));
    // B: the same objects without metadata: Litestream can only use LastModified.
    const b = new S3ReplicaClient(srv.clientOptions("ts-nometa"));
    try {
      await a.write(9, 1n, 0xdn, snapshot, { timestamp: Date.UTC(2020, 0, 1, 0, 0, 0, 123) });
      await a.write(0, 1n, 0xdn, snapshot, { timestamp: Date.UTC(2020, 0, 2) });
      await b.putObject(b.objectKey(9, 1n, 0xdn), snapshot);
      await b.putObject(b.objectKey(0, 1n, 0xdn), snapshot);
      // Litestream first checks the timestamp against the files' LastModified range (so use the oldest
      // LastModified), then plans with the metadata: the snapshot qualifies only if its CreatedAt comes
      // from walship's 2020 metadata, strictly before the target.
      const oldest = async (c: S3ReplicaClient, prefix: string) =>
        (await c.listObjects(prefix)).map((o) => o.lastModified).sort()[0]!;
      const ra = await run(
        [
          "restore",
          "-timestamp",
          await oldest(a, "ts-walship/"),
          "-o",
          join(dir, "ts-a.db"),
          srv.url("ts-walship"),
        ],
        litestreamEnv(srv),
      );
      assert.ok(ra.ok, `restore by metadata failed: ${ra.stderr}`);
      assert.deepEqual(await readFile(join(dir, "ts-a.db")), await readFile(DATABASE));
      const rb = await run(
        [
          "restore",
          "-timestamp",
          await oldest(b, "ts-nometa/"),
          "-o",
          join(dir, "ts-b.db"),
          srv.url("ts-nometa"),
        ],
        litestreamEnv(srv),
      );
      assert.ok(!rb.ok, "the control replica without metadata must not restore at that timestamp");
    } finally {
      await a.close();
      await b.close();
    }
  });

  async function replicateAndRead(url: string, client: ReplicaClient, env: NodeJS.ProcessEnv, name: string) {
    const dbPath = join(dir, `${name}.db`);
    const db = new Database(dbPath);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (x INTEGER PRIMARY KEY, v TEXT)");
    db.prepare("INSERT INTO t (v) VALUES (?)").run("one");
    const t0 = Date.now();
    const child: ChildProcess = spawn(LITESTREAM, ["replicate", dbPath, url], { env, stdio: "ignore" });
    try {
      await waitFor("Litestream's first L0 file", async () =>
        (await client.list(0)).length >= 1 ? true : undefined,
      );
      db.prepare("INSERT INTO t (v) VALUES (?)").run("two");
      await waitFor("a second L0 file", async () => ((await client.list(0)).length >= 2 ? true : undefined));
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      db.close();
    }
    const l0 = await client.list(0, { exactTimestamps: true });
    assert.ok(l0.length >= 2);
    assert.equal(l0[0]!.minTXID, 1n, "the chain starts at TXID 1");
    for (let i = 1; i < l0.length; i++) assert.ok(l0[i]!.minTXID > l0[i - 1]!.minTXID, "sorted by minTXID");
    for (const f of l0) {
      assert.ok(
        f.createdAt >= t0 - 5_000 && f.createdAt <= Date.now() + 5_000,
        `createdAt ${f.createdAt} near now`,
      );
      const bytes = await client.open(0, f.minTXID, f.maxTXID);
      assert.equal(bytes.length, f.size);
      assert.equal(Buffer.from(bytes.subarray(0, 4)).toString("latin1"), "LTX1");
      assert.deepEqual(
        await client.open(0, f.minTXID, f.maxTXID, { offset: 4, length: 4 }),
        bytes.subarray(4, 8),
      );
    }
    return l0;
  }

  it("walship reads the S3 replica `litestream replicate` wrote", { timeout: 60_000 }, async (t) => {
    const srv = s3(t);
    if (!srv) return;
    const client = new S3ReplicaClient(srv.clientOptions("by-litestream"));
    try {
      await replicateAndRead(srv.url("by-litestream"), client, litestreamEnv(srv), "ls-s3");
      // Litestream stores the metadata with millisecond precision; the exact timestamps must be parsed from it.
      const keys = await client.listObjects("by-litestream/0000/");
      const head = await client.headObject(keys[0]!.key);
      assert.match(head.metadata["litestream-timestamp"] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    } finally {
      await client.close();
    }
  });

  it("walship reads the file replica `litestream replicate` wrote", { timeout: 60_000 }, async () => {
    const root = join(dir, "by-litestream-file");
    const client = new FileReplicaClient(root);
    await replicateAndRead(`file://${root}`, client, litestreamEnv(), "ls-file");
  });
});
