/** Defaults, each with its unit and the reason for its value. */

/** How often capture reads the WAL, in ms. One second bounds data loss to about a second (Litestream's default). */
export const DEFAULT_SYNC_INTERVAL_MS = 1_000;
/** How long walship's connections wait for SQLite locks, in ms. Long enough to ride out an app write. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** PASSIVE checkpoint once the WAL holds this many frames (~4 MB at 4 KiB pages), as SQLite and Litestream do. */
export const DEFAULT_MIN_CHECKPOINT_PAGES = 1_000;
/** PASSIVE checkpoint at least this often (ms) when something was written since the last one. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;
/** Emergency TRUNCATE checkpoint at this many WAL frames (~500 MB at 4 KiB), Litestream's truncate-page-n. */
export const DEFAULT_TRUNCATE_PAGES = 121_359;
/** New L9 snapshot this often (ms): bounds restore work to one day of increments. */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 24 * 60 * 60 * 1000;
/** Shutdown drain deadline (ms): Cloud Run and most supervisors give 10 s after SIGTERM. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** Concurrent ranged downloads during restore: enough to fill a link without starving the merge. */
export const DEFAULT_RESTORE_CONCURRENCY = 8;
/** Bytes per ranged GET during restore; a failed range is retried from its own start, not the file's. */
export const RESTORE_RANGE_BYTES = 16 * 1024 * 1024;
