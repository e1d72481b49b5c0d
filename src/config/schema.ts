/**
 * Every key walship.toml accepts, per table, with its checker. Keys are kebab-case so they read like the
 * CLI flags. docs/config.md and examples/walship.toml describe the same keys; test/config checks that
 * the example parses.
 */
import type { LogLevel } from "../log.js";
import { boolean, duration, type Field, httpUrl, integer, listenAddr, listOf, text } from "./fields.js";

export const WEBHOOK_EVENTS = [
  "sync_failed",
  "auth_failure",
  "corruption_detected",
  "circuit_breaker_open",
  "disk_full",
] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const LOG_FORMATS = ["text", "json"] as const;

export type Spec = Readonly<Record<string, Field<unknown>>>;
export type Values<S extends Spec> = { [K in keyof S]?: S[K] extends Field<infer T> ? T : never };

const syncInterval = duration({ min: 10 });
const busyTimeout = duration({ zeroMeans: "fail at once when locked" });
const checkpointPages = integer({ min: 1 });
const checkpointInterval = duration({ zeroMeans: "off" });
const truncatePages = integer({ min: -1, note: "-1 = off" });
const snapshotInterval = duration({ zeroMeans: "only when the replica has none" });

export const SYNC = {
  interval: syncInterval,
  "busy-timeout": busyTimeout,
  "shutdown-timeout": duration({ zeroMeans: "do not wait for uploads" }),
} as const satisfies Spec;

export const CHECKPOINT = {
  pages: checkpointPages,
  interval: checkpointInterval,
  "truncate-pages": truncatePages,
} as const satisfies Spec;

export const SNAPSHOT = { interval: snapshotInterval } as const satisfies Spec;

/** Periodic validation in watch: off by default, as each run reads (GETs) every file of the replica. */
const validateInterval = duration({ min: 1000, zeroMeans: "off" });
export const VALIDATION = { interval: validateInterval } as const satisfies Spec;

/** Mirrors the compaction engine's policy (src/compaction/policy.ts): what is kept, for how long. */
export const RETENTION = {
  enabled: boolean(),
  l0: duration({ zeroMeans: "keep level-0 files forever" }),
  window: duration({ zeroMeans: "no continuous point-in-time window, snapshots only" }),
  hourly: integer({ min: 0 }),
  daily: integer({ min: 0 }),
  weekly: integer({ min: 0 }),
  monthly: integer({ min: 0 }),
} as const satisfies Spec;

/** Litestream allows at most 8 levels between L0 and the L9 snapshots. */
export const MAX_COMPACTION_LEVELS = 8;

export const COMPACTION = {
  levels: listOf(duration({ min: 1000 }), { min: 1, max: MAX_COMPACTION_LEVELS }),
} as const satisfies Spec;

export const S3 = {
  "access-key-id": text({ secret: true }),
  "secret-access-key": text({ secret: true }),
  "session-token": text({ secret: true }),
  region: text(),
  endpoint: text(),
  "force-path-style": boolean(),
  "skip-verify": boolean(),
  "storage-class": text(),
} as const satisfies Spec;

export const METRICS = { enabled: boolean(), addr: listenAddr() } as const satisfies Spec;

export const WEBHOOKS = {
  urls: listOf(httpUrl(), { unique: true }),
  secret: text({ secret: true }),
  events: listOf(text({ oneOf: WEBHOOK_EVENTS }), { min: 1, unique: true }),
  timeout: duration({ min: 100 }),
  "max-attempts": integer({ min: 1, max: 20 }),
} as const satisfies Spec;

export const LOG = {
  level: text({ oneOf: LOG_LEVELS }),
  format: text({ oneOf: LOG_FORMATS }),
} as const satisfies Spec;

export const DATABASE = {
  path: text(),
  replica: text(),
  "sync-interval": syncInterval,
  "busy-timeout": busyTimeout,
  "snapshot-interval": snapshotInterval,
  "checkpoint-pages": checkpointPages,
  "checkpoint-interval": checkpointInterval,
  "truncate-pages": truncatePages,
  "restore-if-db-not-exists": boolean(),
  "validation-interval": validateInterval,
} as const satisfies Spec;

/** Sub-tables of a [[databases]] entry that override the global table of the same name. */
export const DATABASE_TABLES = { retention: RETENTION, compaction: COMPACTION } as const;

export const SECTIONS = {
  sync: SYNC,
  checkpoint: CHECKPOINT,
  snapshot: SNAPSHOT,
  validation: VALIDATION,
  retention: RETENTION,
  compaction: COMPACTION,
  s3: S3,
  metrics: METRICS,
  webhooks: WEBHOOKS,
  log: LOG,
} as const;
export type SectionName = keyof typeof SECTIONS;

export const TOP_LEVEL = { exec: text() } as const satisfies Spec;
