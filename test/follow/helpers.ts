/**
 * Shared pieces of the follow tests: the primary's writer and the reader processes (both real processes
 * on real SQLite), the "is this a state the primary had" check, and waits on the primary's replicator.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Backend } from "../helpers/backends.js";
import { type CliResult, repoRoot, runCli, runNode, waitFor } from "../helpers/cli.js";
import { fileContentHash } from "../helpers/db.js";

export const SEQ_WRITER = join(repoRoot, "test", "follow", "seq-writer.mjs");
export const READER = join(repoRoot, "test", "follow", "reader.mjs");
export const FOLLOWER_PROC = join(repoRoot, "test", "follow", "follower-proc.ts");

/** The same query reader.mjs runs: one read transaction over the whole visible state. */
const CHECK_SQL = `SELECT (SELECT k FROM meta) AS k, count(*) AS n, min(id) AS lo, max(id) AS hi,
  total(body <> replace(hex(zeroblob(100)), '00', printf('%08d:', id))) AS bad FROM rows`;

interface CheckRow {
  k: number;
  n: number;
  lo: number | null;
  hi: number | null;
  bad: number;
}

/** k when `conn` shows the primary's state after transaction k; throws on anything else. */
export function primaryStateOf(conn: Database.Database): number {
  const r = conn.prepare(CHECK_SQL).get() as CheckRow;
  const hi = r.hi ?? 0;
  const ok = r.k === hi && r.n === hi && (r.n === 0 || r.lo === 1) && r.bad === 0;
  if (!ok) throw new Error(`not a state the primary had: ${JSON.stringify(r)}`);
  return r.k;
}

export function primaryState(path: string): number {
  const conn = new Database(path, { fileMustExist: true });
  try {
    return primaryStateOf(conn);
  } finally {
    conn.close();
  }
}

export async function initPrimary(db: string): Promise<void> {
  const r = await runNode(SEQ_WRITER, [db, "init"]).done;
  assert.equal(r.code, 0, r.stderr);
}

export function startWriter(db: string, txPerSecond: number, seconds = 0) {
  return runNode(SEQ_WRITER, [db, String(txPerSecond), String(seconds)]);
}

export async function stopWriter(w: ReturnType<typeof startWriter>): Promise<number> {
  w.child.kill("SIGTERM");
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { k: number }).k;
}

export interface ReaderSummary {
  iterations: number;
  busy: number;
  errorCount: number;
  errors: string[];
  bad: string[];
  distinctK: number;
  minK: number | null;
  maxK: number;
  regressions: number;
  quickChecks: number;
}

export function startReaders(db: string, n: number) {
  const procs = Array.from({ length: n }, () => runNode(READER, [db]));
  return {
    async stop(): Promise<ReaderSummary[]> {
      for (const p of procs) p.child.kill("SIGTERM");
      const done = await Promise.all(procs.map((p) => p.done));
      return done.map((r) => {
        assert.equal(r.code, 0, `reader exited ${r.code}: ${r.stderr}`);
        return JSON.parse(r.stdout) as ReaderSummary;
      });
    },
  };
}

/** Readers saw only states the primary had, got no error but SQLITE_BUSY, and never went backwards. */
export function assertReadersClean(rs: ReaderSummary[], opts: { monotonic?: boolean } = {}): void {
  for (const [i, r] of rs.entries()) {
    assert.ok(r.iterations > 0, `reader ${i} ran`);
    assert.equal(r.errorCount, 0, `reader ${i} errors: ${r.errors.join(" | ")}`);
    assert.deepEqual(r.bad, [], `reader ${i} saw states the primary never had`);
    if (opts.monotonic ?? true) assert.equal(r.regressions, 0, `reader ${i} went backwards`);
  }
}

export function summarizeReaders(rs: ReaderSummary[]): string {
  const sum = (f: (r: ReaderSummary) => number) => rs.reduce((n, r) => n + f(r), 0);
  return `${rs.length} readers: ${sum((r) => r.iterations)} queries, ${sum((r) => r.busy)} SQLITE_BUSY retries, ${sum((r) => r.quickChecks)} quick_checks, ${sum((r) => r.distinctK)} distinct states seen, 0 errors`;
}

/** The primary's replicator status (`walship watch` writes it next to the database). */
export function watchStatus(db: string): { txid: string; replicaTXID: string; pid: number } | null {
  const p = join(db, "..", `.${db.split("/").pop()}-walship`, "status.json");
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8"));
  } catch {
    return null;
  }
}

/** Waits until `walship watch` has uploaded everything it captured; returns that TXID. */
export async function waitWatchDrained(db: string, timeoutMs = 30_000): Promise<bigint> {
  let txid = 0n;
  await waitFor(
    () => {
      const s = watchStatus(db);
      if (!s || s.txid !== s.replicaTXID) return false;
      txid = BigInt(`0x${s.replicaTXID}`);
      return true;
    },
    timeoutMs,
    "walship watch to upload everything",
  );
  return txid;
}

/** The newest TXID on any level of the replica. */
export async function replicaMaxTXID(b: Backend, path: string): Promise<bigint> {
  const c = b.client(path);
  try {
    let max = 0n;
    for (let level = 0; level <= 9; level++) {
      for (const f of await c.list(level)) if (f.maxTXID > max) max = f.maxTXID;
    }
    return max;
  } finally {
    await c.close();
  }
}

/** The TXID in a follower's progress file (exact after a clean stop). */
export function progressTXID(db: string): bigint | null {
  const p = `${db}-walship-follow.json`;
  if (!existsSync(p)) return null;
  return BigInt(`0x${(JSON.parse(readFileSync(p, "utf8")) as { txid: string }).txid}`);
}

/** Content hash of the replica restored at `txid` (what the primary had at that TXID). */
export async function restoredHash(b: Backend, url: string, txid: bigint, out: string): Promise<string> {
  const r = await runCli(["restore", url, "-o", out, "--txid", txid.toString(16).padStart(16, "0")], b.env);
  assert.equal(r.code, 0, r.stderr);
  try {
    return fileContentHash(out);
  } finally {
    rmSync(out, { force: true });
  }
}

/** A TypeScript child (through tsx), e.g. the fault-injecting follower. */
export function runTs(script: string, args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
