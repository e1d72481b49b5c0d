/**
 * Shared inputs for the bad-input corpus: a real replica written by walship (a level-9 snapshot plus
 * level-0 files after it), hashing of every file a failed command must leave alone, and the CLI run.
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import Database from "better-sqlite3";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { type CliResult, cliPath } from "../helpers/cli.js";
import { createWalDb } from "../helpers/db.js";

export interface ReplicaFixture {
  db: string;
  replica: string;
  /** Absolute paths of the replica's LTX files, by level ("9" = the snapshot). */
  files: Record<string, string[]>;
}

/** 300 rows of 300 bytes (~30 pages) in the snapshot, then three small transactions as level-0 files. */
export async function buildReplica(dir: string, pageSize = 4096): Promise<ReplicaFixture> {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "source.db");
  const replica = join(dir, "replica");
  const conn = createWalDb(db, pageSize);
  const ins = conn.prepare("INSERT INTO rows (body, at) VALUES (randomblob(300), ?)");
  conn.transaction(() => {
    for (let i = 0; i < 300; i++) ins.run(i);
  })();
  // No timer-driven ticks: every capture is an explicit sync(), so the file layout is deterministic.
  const r = new Replicator({
    db,
    replica: new FileReplicaClient(replica),
    snapshotIntervalMs: 0,
    syncIntervalMs: 3_600_000,
    checkpointIntervalMs: 0,
  });
  await r.start();
  await r.sync();
  for (let t = 0; t < 3; t++) {
    ins.run(1000 + t);
    await r.sync();
  }
  await r.close();
  conn.close();
  const files: Record<string, string[]> = {};
  for (const level of readdirSync(join(replica, "ltx"))) {
    files[level] = readdirSync(join(replica, "ltx", level))
      .filter((n) => n.endsWith(".ltx"))
      .sort()
      .map((n) => join(replica, "ltx", level, n));
  }
  return { db, replica, files };
}

/** A private copy of a fixture replica for one case. */
export function copyReplica(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return to;
}

/** sha256 of every regular file below each root (relative name → hash), for "nothing changed". */
export function hashTree(...roots: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (root: string, p: string): void => {
    if (!existsSync(p)) return;
    const st = lstatSync(p);
    if (st.isDirectory()) {
      for (const n of readdirSync(p).sort()) walk(root, join(p, n));
    } else if (st.isFile()) {
      out[`${root}:${relative(root, p)}`] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  for (const r of roots) walk(r, r);
  return out;
}

export function rowCount(path: string): number {
  const d = new Database(path, { readonly: true });
  try {
    return (d.prepare("SELECT count(*) AS n FROM rows").get() as { n: number }).n;
  } finally {
    d.close();
  }
}

export interface Expect {
  code: number;
  /** Patterns the single stderr line must match (the thing named, the fix). */
  says: RegExp[];
}

/** The one stderr line a failed command prints (leading log lines of `watch` are skipped). */
export function errorLine(r: CliResult): string {
  const lines = r.stderr
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("walship "));
  return lines[lines.length - 1] ?? r.stderr.trim();
}

/** The CLI under test: dist/cli/main.js (`npm run build` first), or WALSHIP_CLI for a private build. */
export const CLI = process.env.WALSHIP_CLI ?? cliPath;

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (the corpus uses 65534, nobody, for permission cases). */
  uid?: number;
  gid?: number;
  cwd?: string;
  /** Kill the command after this long (ms): a `watch` that should have failed must not hang the suite. */
  timeoutMs?: number;
}

/** Every corpus command fails within seconds; this only bounds a command that wrongly keeps running. */
const CLI_TIMEOUT_MS = 60_000;

/** Runs the CLI as a user would and collects its output. */
export function runCli(args: string[], o: RunOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
    uid: o.uid,
    gid: o.gid,
    cwd: o.cwd,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? CLI_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
