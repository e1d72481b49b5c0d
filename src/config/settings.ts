/**
 * Per-database settings: each value is taken from the first of --flag, the [[databases]] entry, the
 * global table, the default, and the row for `walship explain` records which one it was.
 */

import {
  DEFAULT_GFS,
  DEFAULT_L0_RETENTION_MS,
  DEFAULT_LEVELS,
  DEFAULT_PITR_WINDOW_MS,
  type GfsPolicy,
  type LevelSpec,
} from "../compaction/policy.js";
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_MIN_CHECKPOINT_PAGES,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TRUNCATE_PAGES,
} from "../defaults.js";
import { WalshipError } from "../errors.js";
import type { LogLevel } from "../log.js";
import { boolean, type Field } from "./fields.js";
import { type ConfigFile, configError, type DatabaseEntry } from "./load.js";
import { CHECKPOINT, COMPACTION, RETENTION, SNAPSHOT, SYNC, VALIDATION } from "./schema.js";
import type { KeyPath } from "./source-lines.js";

/** Values given on the command line; they apply to every database. */
export interface CliSettings {
  syncIntervalMs?: number;
  busyTimeoutMs?: number;
  snapshotIntervalMs?: number;
  minCheckpointPages?: number;
  checkpointIntervalMs?: number;
  truncatePages?: number;
  shutdownTimeoutMs?: number;
  restoreIfDbNotExists?: boolean;
  /** --validate-interval: periodic validation of every replica (0 = off). */
  validateIntervalMs?: number;
  /** null disables the listener (--no-metrics). */
  metricsAddr?: { host: string; port: number } | null;
  logLevel?: LogLevel;
  logFormat?: "text" | "json";
  exec?: string;
}

export interface DatabaseSettings {
  syncIntervalMs: number;
  busyTimeoutMs: number;
  snapshotIntervalMs: number;
  minCheckpointPages: number;
  checkpointIntervalMs: number;
  truncatePages: number;
  restoreIfDbNotExists: boolean;
  /** Check the whole replica this often in the background (ms); 0 = off. */
  validateIntervalMs: number;
  /**
   * Compaction and retention, in the shape of the compaction engine's PolicyOptions (Maintainer):
   * levels L1.. with their intervals, L0 retention (Infinity = keep), the point-in-time window,
   * snapshot slots per calendar bucket, and whether anything is deleted at all.
   */
  maintenance: {
    levels: LevelSpec[];
    l0RetentionMs: number;
    pitrWindowMs: number;
    gfs: GfsPolicy;
    retention: boolean;
  };
}

/** One row of `walship explain`: the key as written in walship.toml, its value, and where it came from. */
export interface ExplainRow {
  key: string;
  value: string;
  origin: string;
}
export interface Candidate<T> {
  value: T | undefined;
  origin: string;
  path?: KeyPath;
}

export function fmt<T>(field: Field<T> | undefined, v: T): string {
  if (field?.secret) return '"(redacted)"';
  return field?.format ? field.format(v) : JSON.stringify(v);
}

/** Picks the first defined candidate, recording the row for explain. */
export function take<T>(
  rows: ExplainRow[],
  key: string,
  field: Field<T>,
  candidates: Candidate<T>[],
  def: T,
): T {
  for (const c of candidates) {
    if (c.value !== undefined) {
      rows.push({ key, value: fmt(field, c.value), origin: c.origin });
      return c.value;
    }
  }
  rows.push({ key, value: fmt(field, def), origin: "default" });
  return def;
}

export function dbSettings(
  rows: ExplainRow[],
  file: ConfigFile | null,
  entry: DatabaseEntry | null,
  cli: CliSettings,
): DatabaseSettings {
  const g = file?.sections;
  const v = entry?.values;
  const at: KeyPath = entry ? ["databases", entry.index] : [];
  const own = <T>(key: string, value: T | undefined): Candidate<T> => ({
    value,
    origin: `[[databases]] #${(entry?.index ?? 0) + 1}`,
    path: [...at, ...key.split(".")],
  });
  const glob = <T>(section: string, key: string, value: T | undefined): Candidate<T> => ({
    value,
    origin: `[${section}] ${key}`,
    path: [section, key],
  });
  const flag = <T>(f: string, value: T | undefined): Candidate<T> => ({ value, origin: `--${f}` });
  const gfsSlot = (k: keyof GfsPolicy): number =>
    take(
      rows,
      `retention.${k}`,
      RETENTION[k],
      [own(`retention.${k}`, entry?.retention[k]), glob("retention", k, g?.retention[k])],
      DEFAULT_GFS[k],
    );
  const s: DatabaseSettings = {
    syncIntervalMs: take(
      rows,
      "sync-interval",
      SYNC.interval,
      [
        flag("sync-interval", cli.syncIntervalMs),
        own("sync-interval", v?.["sync-interval"]),
        glob("sync", "interval", g?.sync.interval),
      ],
      DEFAULT_SYNC_INTERVAL_MS,
    ),
    busyTimeoutMs: take(
      rows,
      "busy-timeout",
      SYNC["busy-timeout"],
      [
        flag("busy-timeout", cli.busyTimeoutMs),
        own("busy-timeout", v?.["busy-timeout"]),
        glob("sync", "busy-timeout", g?.sync["busy-timeout"]),
      ],
      DEFAULT_BUSY_TIMEOUT_MS,
    ),
    snapshotIntervalMs: take(
      rows,
      "snapshot-interval",
      SNAPSHOT.interval,
      [
        flag("snapshot-interval", cli.snapshotIntervalMs),
        own("snapshot-interval", v?.["snapshot-interval"]),
        glob("snapshot", "interval", g?.snapshot.interval),
      ],
      DEFAULT_SNAPSHOT_INTERVAL_MS,
    ),
    minCheckpointPages: take(
      rows,
      "checkpoint-pages",
      CHECKPOINT.pages,
      [
        flag("checkpoint-pages", cli.minCheckpointPages),
        own("checkpoint-pages", v?.["checkpoint-pages"]),
        glob("checkpoint", "pages", g?.checkpoint.pages),
      ],
      DEFAULT_MIN_CHECKPOINT_PAGES,
    ),
    checkpointIntervalMs: take(
      rows,
      "checkpoint-interval",
      CHECKPOINT.interval,
      [
        flag("checkpoint-interval", cli.checkpointIntervalMs),
        own("checkpoint-interval", v?.["checkpoint-interval"]),
        glob("checkpoint", "interval", g?.checkpoint.interval),
      ],
      DEFAULT_CHECKPOINT_INTERVAL_MS,
    ),
    truncatePages: take(
      rows,
      "truncate-pages",
      CHECKPOINT["truncate-pages"],
      [
        flag("truncate-pages", cli.truncatePages),
        own("truncate-pages", v?.["truncate-pages"]),
        glob("checkpoint", "truncate-pages", g?.checkpoint["truncate-pages"]),
      ],
      DEFAULT_TRUNCATE_PAGES,
    ),
    restoreIfDbNotExists: take(
      rows,
      "restore-if-db-not-exists",
      boolean(),
      [
        flag("restore-if-db-not-exists", cli.restoreIfDbNotExists || undefined),
        own("restore-if-db-not-exists", v?.["restore-if-db-not-exists"]),
      ],
      false,
    ),
    validateIntervalMs: take(
      rows,
      "validation-interval",
      VALIDATION.interval,
      [
        flag("validate-interval", cli.validateIntervalMs),
        own("validation-interval", v?.["validation-interval"]),
        glob("validation", "interval", g?.validation.interval),
      ],
      0,
    ),
    maintenance: {
      levels: take(
        rows,
        "compaction.levels",
        COMPACTION.levels,
        [
          own("compaction.levels", entry?.compaction.levels),
          glob("compaction", "levels", g?.compaction.levels),
        ],
        DEFAULT_LEVELS.map((l) => l.intervalMs),
      ).map((intervalMs, i) => ({ level: i + 1, intervalMs })),
      retention: take(
        rows,
        "retention.enabled",
        RETENTION.enabled,
        [
          own("retention.enabled", entry?.retention.enabled),
          glob("retention", "enabled", g?.retention.enabled),
        ],
        true,
      ),
      // "0" in the file means keep forever, which the engine spells Infinity.
      l0RetentionMs:
        take(
          rows,
          "retention.l0",
          RETENTION.l0,
          [own("retention.l0", entry?.retention.l0), glob("retention", "l0", g?.retention.l0)],
          DEFAULT_L0_RETENTION_MS,
        ) || Number.POSITIVE_INFINITY,
      pitrWindowMs: take(
        rows,
        "retention.window",
        RETENTION.window,
        [own("retention.window", entry?.retention.window), glob("retention", "window", g?.retention.window)],
        DEFAULT_PITR_WINDOW_MS,
      ),
      gfs: {
        hourly: gfsSlot("hourly"),
        daily: gfsSlot("daily"),
        weekly: gfsSlot("weekly"),
        monthly: gfsSlot("monthly"),
      },
    },
  };
  if (s.truncatePages >= 0 && s.truncatePages <= s.minCheckpointPages) {
    const problem = `truncate-pages (${s.truncatePages}) must be above checkpoint-pages (${s.minCheckpointPages}), or -1 to turn it off`;
    const origin = rows.find((r) => r.key === "truncate-pages")?.origin ?? "";
    if (!file || origin.startsWith("--") || origin === "default") {
      throw new WalshipError("usage", problem, {
        op: "configure",
        hint: "the emergency TRUNCATE must be a higher threshold than the PASSIVE one",
      });
    }
    const path: KeyPath = origin.startsWith("[[")
      ? [...at, "truncate-pages"]
      : ["checkpoint", "truncate-pages"];
    throw configError(file.file, file.lines, path, problem);
  }
  return s;
}
