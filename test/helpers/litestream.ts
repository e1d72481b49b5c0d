/**
 * The real Litestream binaries for interop tests, as installed by `npm run setup:peers` into .peers/bin:
 * `litestream` (v0.5.17) and `litestream-v0.3.13` (for legacy v0.3 backups). Without them: in CI
 * (CI=true) findPeers throws, because CI must never skip; elsewhere it returns { skip } for t.skip().
 *
 * Litestream runs as a child process, in the config-less form `litestream replicate <db> <url>` or, when
 * a test needs other intervals (fast syncs, quick compaction, v0.3 checkpoints), with a YAML config written
 * to a temp dir. URLs: file replicas are `file:///abs/path` (a plain path means a database path to
 * Litestream); S3 replicas are `s3://bucket/path?endpoint=http://127.0.0.1:PORT&region=us-east-1` (an
 * endpoint turns path style on). Credentials go in LITESTREAM_ACCESS_KEY_ID/SECRET (and AWS_*).
 *
 * AWS_CA_BUNDLE is removed from Litestream's environment: with it set, Litestream v0.5's AWS SDK refuses to
 * start ("unable to add custom RootCAs HTTPClient") even for a plain-http endpoint.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { ReplicaClient } from "../../src/replica/client.js";
import type { Backend } from "./backends.js";
import { type CliResult, repoRoot, waitFor } from "./cli.js";

export const LITESTREAM_VERSION = "0.5.17";
export const LITESTREAM_V3_VERSION = "v0.3.13";

export interface Peers {
  /** Litestream v0.5.17. */
  litestream: string;
  /** Litestream v0.3.13. */
  litestreamV3: string;
}

export function peersDir(): string {
  return process.env.WALSHIP_PEERS_BIN ?? join(repoRoot, ".peers", "bin");
}

export function findPeers(): Peers | { skip: string } {
  const dir = peersDir();
  const peers = { litestream: join(dir, "litestream"), litestreamV3: join(dir, "litestream-v0.3.13") };
  const missing = Object.values(peers).filter((p) => !existsSync(p));
  if (missing.length > 0) {
    const reason = `Litestream peers not installed (${missing.join(", ")}): run npm run setup:peers`;
    if (process.env.CI === "true") throw new Error(`${reason} (CI must not skip interop tests)`);
    return { skip: reason };
  }
  return peers;
}

/** Environment for a Litestream child: the test's credentials, without variables that break it. */
export function litestreamEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.AWS_CA_BUNDLE;
  delete env.LITESTREAM_CONFIG;
  if (extra.AWS_ACCESS_KEY_ID) env.LITESTREAM_ACCESS_KEY_ID = extra.AWS_ACCESS_KEY_ID;
  if (extra.AWS_SECRET_ACCESS_KEY) env.LITESTREAM_SECRET_ACCESS_KEY = extra.AWS_SECRET_ACCESS_KEY;
  return env;
}

/** One replica path on a test backend, in the forms each tool and config need. */
export interface ReplicaTarget {
  backend: Backend["name"];
  /** URL for walship (a directory, or s3://...). */
  walshipUrl: string;
  /** URL for Litestream v0.5 (file:///..., or s3://...?endpoint=...). */
  litestreamUrl: string;
  /** The replica block of a Litestream YAML config (v0.5 `replica:`, v0.3 `replicas: [...]`). */
  yaml: Record<string, unknown>;
  /** Credentials both tools need. */
  env: NodeJS.ProcessEnv;
  /** walship's own client on the same replica (for listing and tampering in tests). */
  client(): ReplicaClient;
}

export function replicaTarget(b: Backend, path: string): ReplicaTarget {
  if (b.name === "file") {
    const dir = resolve(b.url(path));
    return {
      backend: "file",
      walshipUrl: dir,
      litestreamUrl: `file://${dir}`,
      yaml: { type: "file", path: dir },
      env: b.env,
      client: () => b.client(path),
    };
  }
  const s = b.server!;
  return {
    backend: "s3",
    walshipUrl: b.url(path),
    litestreamUrl: `s3://${s.bucket}/${path}?endpoint=${s.endpoint}&region=${s.region}`,
    yaml: {
      type: "s3",
      bucket: s.bucket,
      path,
      endpoint: s.endpoint,
      region: s.region,
      "force-path-style": true,
      "access-key-id": s.accessKeyId,
      "secret-access-key": s.secretAccessKey,
    },
    env: b.env,
    client: () => b.client(path),
  };
}

// ---- YAML ------------------------------------------------------------------------------------------------

function yamlScalar(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v); // a JSON string is a valid YAML double-quoted scalar
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new Error(`yaml: unsupported value ${String(v)}`);
}

/** A small YAML writer for plain nested objects, arrays and scalars (enough for Litestream configs). */
export function toYaml(v: unknown, indent = 0): string {
  const pad = " ".repeat(indent);
  if (Array.isArray(v)) {
    return v
      .map((item) => {
        if (item !== null && typeof item === "object") {
          const body = toYaml(item, indent + 2).trimStart();
          return `${pad}- ${body}`;
        }
        return `${pad}- ${yamlScalar(item)}\n`;
      })
      .join("");
  }
  if (v !== null && typeof v === "object") {
    let out = "";
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) continue;
      if (val !== null && typeof val === "object") {
        out += `${pad}${k}:\n${toYaml(val, indent + 2)}`;
      } else {
        out += `${pad}${k}: ${yamlScalar(val)}\n`;
      }
    }
    return out;
  }
  return `${pad}${yamlScalar(v)}\n`;
}

/** Writes a config file to a fresh temp dir and returns its path. */
export function writeConfig(config: Record<string, unknown>, dir?: string): string {
  const d = dir ?? mkdtempSync(join(tmpdir(), "walship-ls-config-"));
  const path = join(d, "litestream.yml");
  writeFileSync(path, toYaml(config));
  return path;
}

/**
 * A Litestream v0.5 config for one database and replica. `fast` makes it sync every 100 ms (so tests do
 * not wait a second per step); other keys are merged at the top level (levels, snapshot, l0-retention...).
 */
export function v5Config(
  db: string,
  target: ReplicaTarget,
  opts: { fast?: boolean; top?: Record<string, unknown>; dbExtra?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const replica: Record<string, unknown> = { ...target.yaml };
  const entry: Record<string, unknown> = { path: db, ...opts.dbExtra };
  if (opts.fast) {
    entry["monitor-interval"] = "100ms";
    replica["sync-interval"] = "100ms";
  }
  entry.replica = replica;
  return { ...opts.top, dbs: [entry] };
}

// ---- processes -------------------------------------------------------------------------------------------

export interface PeerProcess {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** stdout + stderr so far. */
  log(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after timeoutMs). */
  stop(timeoutMs?: number): Promise<CliResult>;
}

export function startPeer(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): PeerProcess {
  const child = spawn(bin, args, { env: litestreamEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let both = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
    both += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
    both += d;
  });
  const done = new Promise<CliResult>((res) => {
    child.on("close", (code, signal) => res({ code, signal, stdout, stderr }));
  });
  return {
    child,
    done,
    log: () => both,
    async stop(timeoutMs = 40_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        const r = await done;
        clearTimeout(t);
        return r;
      }
      return done;
    },
  };
}

export function runPeer(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startPeer(bin, args, env).done;
}

/** `litestream replicate <db> <url>`, or `litestream replicate -config <file>` when a config is given. */
export function startReplicate(
  peers: Peers,
  opts: { db: string; target: ReplicaTarget; config?: Record<string, unknown> },
): PeerProcess {
  if (!isAbsolute(opts.db)) throw new Error("startReplicate: db path must be absolute");
  const args = opts.config
    ? ["replicate", "-config", writeConfig(opts.config)]
    : ["replicate", opts.db, opts.target.litestreamUrl];
  return startPeer(peers.litestream, args, opts.target.env);
}

/** `litestream restore -o <out> [-txid X] <url>`. */
export function litestreamRestore(
  peers: Peers,
  target: ReplicaTarget,
  out: string,
  opts: { txid?: bigint; extra?: string[] } = {},
): Promise<CliResult> {
  const args = ["restore", "-o", out];
  if (opts.txid !== undefined) args.push("-txid", opts.txid.toString(16).padStart(16, "0"));
  args.push(...(opts.extra ?? []), target.litestreamUrl);
  return runPeer(peers.litestream, args, target.env);
}

export interface LsLtxFile {
  level: number;
  minTXID: bigint;
  maxTXID: bigint;
  size: number;
}

/** `litestream ltx -json -level all <url>`: what Litestream itself sees in the replica. */
export async function litestreamLtx(peers: Peers, target: ReplicaTarget): Promise<LsLtxFile[]> {
  const r = await runPeer(
    peers.litestream,
    ["ltx", "-json", "-level", "all", target.litestreamUrl],
    target.env,
  );
  if (r.code !== 0) throw new Error(`litestream ltx failed: ${r.stderr}`);
  const rows = JSON.parse(r.stdout || "[]") as Array<{
    level: number;
    min_txid: string;
    max_txid: string;
    size: number;
  }>;
  return rows.map((x) => ({
    level: x.level,
    minTXID: BigInt(`0x${x.min_txid}`),
    maxTXID: BigInt(`0x${x.max_txid}`),
    size: x.size,
  }));
}

/** The highest TXID in any level of the replica (0 for an empty replica). */
export async function replicaMaxTXID(client: ReplicaClient): Promise<bigint> {
  let max = 0n;
  for (let level = 0; level <= 9; level++) {
    for (const f of await client.list(level)) if (f.maxTXID > max) max = f.maxTXID;
  }
  return max;
}

/** Waits until the replica's level-0 files reach past `after`; returns the new maximum. */
export async function waitForReplicaTXID(
  client: ReplicaClient,
  after: bigint,
  what: string,
  timeoutMs = 30_000,
): Promise<bigint> {
  let max = 0n;
  await waitFor(
    async () => {
      const l0 = await client.list(0);
      max = l0.length ? l0[l0.length - 1]!.maxTXID : 0n;
      return max > after;
    },
    timeoutMs,
    what,
  );
  return max;
}
