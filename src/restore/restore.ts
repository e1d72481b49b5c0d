/**
 * Restore: plan, fetch the plan's files concurrently, merge them page by page (newest wins) into
 * `<out>.tmp`, fsync, optionally integrity-check, rename over `<out>`, fsync the directory. An existing
 * database is never touched without `force`.
 */
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { DEFAULT_RESTORE_CONCURRENCY, RESTORE_RANGE_BYTES } from "../defaults.js";
import { fsError, isWalshipError, WalshipError } from "../errors.js";
import { applyLtxFiles } from "../ltx/apply.js";
import { formatLtxFilename, formatTXID } from "../ltx/filename.js";
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { type FetchProgress, fetchPlanFiles } from "./fetch.js";
import { chooseLegacy, type LegacyRestoreInfo } from "./legacy/restore.js";
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
  /** Litestream v0.3 backups only (src/restore/legacy): restore from this generation (16 hex digits). */
  generation?: string;
  /** Litestream v0.3 backups only: apply WAL up to and including this WAL index. */
  index?: number;
}

export interface RestoreResult {
  status: "restored" | "skipped" | "planned";
  reason?: string;
  txid?: bigint;
  files: LtxFileInfo[];
  output: string;
  bytes?: number;
  /** Set when the replica was restored from its Litestream v0.3 generations. */
  legacy?: LegacyRestoreInfo;
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
  // A Litestream v0.3 replica (generations/...), or --generation/--index, restores through src/restore/legacy.
  const legacy = await chooseLegacy(client, levels, opts);
  if (legacy) return legacy;
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
  const work = await makeWorkDir(dir, out);
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

/** The output's directory (created if needed) and a scratch directory in it, as typed errors naming it. */
async function makeWorkDir(dir: string, out: string): Promise<string> {
  try {
    await mkdir(dir, { recursive: true });
    return await mkdtemp(join(dir, `.${basename(out)}-restore-`));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new WalshipError("usage", `cannot restore into ${dir}: it is a file, not a directory`, {
        op: "restore",
        context: { path: dir },
        hint: "give -o a path inside a directory",
        cause: e,
      });
    }
    throw fsError(e, "restore", dir);
  }
}

/**
 * Merges the fetched files into `tmp`; a damaged input is named in the error (level and file name) and
 * the hint says the way out.
 */
async function applyFiles(paths: string[], files: LtxFileInfo[], tmp: string, where: string) {
  const names = files.map(
    (f) => `level ${f.level} file ${formatLtxFilename(f.minTXID, f.maxTXID)} in ${where}`,
  );
  try {
    return await applyLtxFiles(paths, tmp, { names });
  } catch (e) {
    throw withDamageHint(e, files, where);
  }
}

const DAMAGE_CODES = new Set(["ltx_invalid", "ltx_checksum", "ltx_truncated", "ltx_unsupported", "lz4"]);

function withDamageHint(e: unknown, files: LtxFileInfo[], where: string): unknown {
  if (!(e instanceof WalshipError) || e.hint) return e;
  const verify = `\`walship verify ${where}\` names every damaged file`;
  let hint: string;
  if (e.code === "replica_gap" && typeof e.context.minTXID === "bigint") {
    hint = `--txid ${formatTXID(e.context.minTXID)} restores up to the gap; the files after it are missing or a header does not match its file name (${verify})`;
  } else if (e.code === "ltx_unsupported") {
    hint = "the file was written by an older Litestream (LTX v1); restore it with that Litestream version";
  } else if (DAMAGE_CODES.has(e.code)) {
    const path = typeof e.context.path === "string" ? e.context.path : "";
    const bad = files.find((f) => path.includes(formatLtxFilename(f.minTXID, f.maxTXID)));
    const min = bad?.minTXID ?? (typeof e.context.minTXID === "bigint" ? e.context.minTXID : 0n);
    const earlier = min > 1n ? `--txid ${formatTXID(min - 1n)} restores the point just before it; ` : "";
    hint = `the replica file is damaged: ${earlier}${verify}, and \`walship snapshot\` starts a fresh chain`;
  } else {
    return e;
  }
  return new WalshipError(e.code, e.message, { op: e.op, context: e.context, hint, cause: e });
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
