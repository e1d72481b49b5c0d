/**
 * Restore: plan, fetch the plan's files concurrently, merge them page by page (newest wins) into
 * `<out>.tmp`, fsync, optionally integrity-check, rename over `<out>`, fsync the directory. An existing
 * database is never touched without `force`.
 */
import { existsSync, statSync } from "node:fs";
import { mkdtemp, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { DEFAULT_RESTORE_CONCURRENCY, RESTORE_RANGE_BYTES } from "../defaults.js";
import { isWalshipError, WalshipError } from "../errors.js";
import { applyLtxFiles } from "../ltx/apply.js";
import { formatLtxFilename } from "../ltx/filename.js";
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { type FetchProgress, fetchPlanFiles } from "./fetch.js";
import { listAll, planRestore, type RestoreTarget } from "./plan.js";

export interface RestoreOptions extends RestoreTarget {
  output: string;
  /** Exit quietly (skipped) when the output already exists. */
  ifDbNotExists?: boolean;
  /** Exit quietly (skipped) when the replica holds no backup. */
  ifReplicaExists?: boolean;
  /** Replace an existing output database (and remove its -wal/-shm). */
  force?: boolean;
  dryRun?: boolean;
  integrityCheck?: "none" | "quick" | "full";
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
}

export interface RestoreResult {
  status: "restored" | "skipped" | "planned";
  reason?: string;
  txid?: bigint;
  files: LtxFileInfo[];
  output: string;
  bytes?: number;
}

const SIDE_FILES = ["-wal", "-shm", "-journal"];

function outputInUse(out: string): string | null {
  if (existsSync(out) && statSync(out).size > 0) return out;
  for (const s of SIDE_FILES) if (existsSync(out + s)) return out + s;
  return null;
}

export async function restore(client: ReplicaClient, opts: RestoreOptions): Promise<RestoreResult> {
  const out = opts.output;
  if (opts.ifDbNotExists && existsSync(out)) {
    return { status: "skipped", reason: "database already exists", files: [], output: out };
  }
  const inUse = opts.dryRun ? null : outputInUse(out);
  if (inUse && !opts.force) {
    throw new WalshipError("db_exists", `${inUse} already exists`, {
      op: "restore",
      context: { path: inUse },
      hint: "restore to another path with -o, or pass --force to replace it",
    });
  }
  const levels = await listAll(client, {
    signal: opts.signal,
    exactTimestamps: opts.timestamp !== undefined,
  });
  let plan: ReturnType<typeof planRestore>;
  try {
    plan = planRestore(levels, { txid: opts.txid, timestamp: opts.timestamp }, client.location);
  } catch (e) {
    const empty = [...levels.values()].every((l) => l.length === 0);
    if (opts.ifReplicaExists && empty && isWalshipError(e, "replica_not_found")) {
      return { status: "skipped", reason: "no backup in replica", files: [], output: out };
    }
    throw e;
  }
  if (opts.dryRun) return { status: "planned", txid: plan.txid, files: plan.files, output: out };

  const dir = dirname(out);
  await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
  const work = await mkdtemp(join(dir, `.${basename(out)}-restore-`));
  const tmp = `${out}.tmp`;
  try {
    const paths = await fetchPlanFiles(client, plan.files, work, {
      concurrency: opts.concurrency ?? DEFAULT_RESTORE_CONCURRENCY,
      rangeBytes: RESTORE_RANGE_BYTES,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    await rm(tmp, { force: true });
    const applied = await applyFiles(paths, plan.files, tmp, client.location);
    const fh = await open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.integrityCheck && opts.integrityCheck !== "none") integrityCheck(tmp, opts.integrityCheck);
    if (opts.force) for (const s of SIDE_FILES) await rm(out + s, { force: true });
    await rename(tmp, out);
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    return { status: "restored", txid: plan.txid, files: plan.files, output: out, bytes: applied.size };
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await rm(work, { recursive: true, force: true });
    for (const s of SIDE_FILES) await rm(tmp + s, { force: true });
  }
}

/** Merges the fetched files into `tmp`; a damaged input is named in the error (level and file name). */
function applyFiles(paths: string[], files: LtxFileInfo[], tmp: string, where: string) {
  const names = files.map(
    (f) => `level ${f.level} file ${formatLtxFilename(f.minTXID, f.maxTXID)} in ${where}`,
  );
  return applyLtxFiles(paths, tmp, { names });
}

function integrityCheck(path: string, mode: "quick" | "full"): void {
  const db = new Database(path);
  try {
    const rows = db
      .prepare(mode === "quick" ? "PRAGMA quick_check" : "PRAGMA integrity_check")
      .all() as Array<Record<string, string>>;
    const msgs = rows.map((r) => Object.values(r)[0]);
    if (msgs.length !== 1 || msgs[0] !== "ok") {
      throw new WalshipError(
        "ltx_invalid",
        `restored database failed ${mode} check: ${msgs.slice(0, 3).join("; ")}`,
        {
          op: "restore integrity check",
          context: { path },
          hint: "the replica is damaged; try an earlier --txid, and run `walship verify` on it",
        },
      );
    }
  } finally {
    db.close();
  }
}
