/**
 * The maintenance policy: which levels compact how often, how long L0 and point-in-time history are kept,
 * and which snapshots survive (grandfather-father-son). Every default names its unit and its reason.
 */
import { WalshipError } from "../errors.js";
import { SNAPSHOT_LEVEL } from "../replica/client.js";

export interface LevelSpec {
  /** Destination level, 1..8; its source is the previous level in the list (level 0 for the first). */
  level: number;
  /** Wall-clock cadence in ms; runs happen at multiples of it (now truncated to the interval). */
  intervalMs: number;
}

export interface GfsPolicy {
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
}

/** Litestream's default levels (§6): 30 s, 5 min, 1 h, so a restore reads about a dozen files. */
export const DEFAULT_LEVELS: readonly LevelSpec[] = [
  { level: 1, intervalMs: 30_000 },
  { level: 2, intervalMs: 5 * 60_000 },
  { level: 3, intervalMs: 60 * 60_000 },
];
/** L0 files stay this long (ms) after L1 covers them: Litestream's l0-retention, per-TXID PITR for 5 min. */
export const DEFAULT_L0_RETENTION_MS = 5 * 60_000;
/** Snapshot slots kept per calendar bucket (UTC): the usual backup-rotation numbers. */
export const DEFAULT_GFS: Readonly<GfsPolicy> = { hourly: 24, daily: 7, weekly: 12, monthly: 12 };
/**
 * Continuous point-in-time window in ms: every moment this recent stays restorable at compaction
 * granularity. 24 h matches Litestream's snapshot.retention. Older GFS snapshots are restore points of
 * their own and keep no incremental files alive, which is what bounds the object count.
 */
export const DEFAULT_PITR_WINDOW_MS = 24 * 60 * 60_000;
/** Snapshots never go below this count (the newest and the one before it, should the newest be bad). */
export const MIN_SNAPSHOTS_KEPT = 2;
/** Inputs per compaction; bounds memory (one read range per input) and the size of one output. */
export const DEFAULT_MAX_INPUTS = 64;
/** Bytes per ranged GET of a remote input; with DEFAULT_MAX_INPUTS this caps read buffers near 64 MiB. */
export const REMOTE_RANGE_BYTES = 1024 * 1024;
/**
 * Compactions running at once in the whole process, over all its databases. Every database's level 1 is
 * due at the same wall-clock boundary, and each compaction holds a read buffer and a decoder per input:
 * without a bound, 300 databases compacting together added 100 MiB of RSS (docs/performance.md). Four
 * keep a compaction's sequential ranged GETs from idling the CPU while bounding memory to four jobs.
 */
export const MAX_CONCURRENT_COMPACTIONS = 4;
/**
 * Every level is re-listed this often (ms) to pick up files written by others (snapshots, a manual
 * `walship compact`). 10 LISTs per refresh: 20 LIST/hour for an idle database.
 */
export const DEFAULT_REFRESH_INTERVAL_MS = 30 * 60_000;
/** Retention is re-evaluated from the in-memory listing at most this often (ms); it costs no request. */
export const RETENTION_CHECK_MS = 15_000;
/**
 * Deletion passes are at least this far apart (ms). Each one re-lists every level first, so that nothing
 * is deleted on the strength of a stale listing; spacing them bounds that cost under constant writes.
 */
export const DEFAULT_DELETE_INTERVAL_MS = 5 * 60_000;
/** After a failed compaction the level is retried this soon (ms) rather than at its next boundary. */
export const COMPACTION_RETRY_MS = 30_000;

export interface Policy {
  levels: LevelSpec[];
  l0RetentionMs: number;
  gfs: GfsPolicy;
  pitrWindowMs: number;
  retention: boolean;
  maxInputs: number;
}

export interface PolicyOptions {
  levels?: readonly LevelSpec[];
  l0RetentionMs?: number;
  gfs?: Partial<GfsPolicy>;
  pitrWindowMs?: number;
  retention?: boolean;
  maxInputs?: number;
}

function configError(message: string, hint: string): WalshipError {
  return new WalshipError("config", message, { op: "maintenance policy", hint });
}

/** Infinity is allowed: "keep forever" (Litestream spells that l0-retention: 0; map it to Infinity). */
function nonNegative(name: string, v: number): number {
  if (typeof v !== "number" || Number.isNaN(v) || v < 0) {
    throw configError(
      `${name} must be a non-negative number of ms, got ${v}`,
      `${name}: use Infinity to keep forever`,
    );
  }
  return v;
}

export function resolvePolicy(o: PolicyOptions = {}): Policy {
  const levels = [...(o.levels ?? DEFAULT_LEVELS)].map((l) => ({ ...l }));
  levels.forEach((l, i) => {
    if (l.level !== i + 1 || l.level >= SNAPSHOT_LEVEL) {
      throw configError(
        `compaction levels must be 1, 2, 3, ... (at most 8) in order; entry ${i} is level ${l.level}`,
        "list levels in order, starting at 1: each compacts the level below it",
      );
    }
    if (!Number.isFinite(l.intervalMs) || l.intervalMs < 1000) {
      throw configError(`level ${l.level}: interval ${l.intervalMs} ms is below 1 s`, "use e.g. 30s, 5m, 1h");
    }
  });
  const gfs = { ...DEFAULT_GFS, ...(o.gfs ?? {}) };
  for (const k of ["hourly", "daily", "weekly", "monthly"] as const) {
    if (!Number.isInteger(gfs[k]) || gfs[k] < 0) {
      throw configError(`snapshot retention ${k} must be a whole number >= 0, got ${gfs[k]}`, `--${k} N`);
    }
  }
  const maxInputs = o.maxInputs ?? DEFAULT_MAX_INPUTS;
  if (!Number.isInteger(maxInputs) || maxInputs < 2) {
    throw configError(`maxInputs must be a whole number >= 2, got ${maxInputs}`, "the default is 64");
  }
  return {
    levels,
    l0RetentionMs: nonNegative("l0RetentionMs", o.l0RetentionMs ?? DEFAULT_L0_RETENTION_MS),
    gfs,
    pitrWindowMs: nonNegative("pitrWindowMs", o.pitrWindowMs ?? DEFAULT_PITR_WINDOW_MS),
    retention: o.retention ?? true,
    maxInputs,
  };
}

/** Start of the interval containing `now`: runs are aligned to wall-clock multiples of the interval. */
export function boundary(now: number, intervalMs: number): number {
  return Math.floor(now / intervalMs) * intervalMs;
}
