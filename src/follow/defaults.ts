/** Follower defaults, each with its unit and the reason for its value. */

/** Poll interval in ms: Litestream's `restore -f` and its VFS poll every second, so lag stays near one interval. */
export const DEFAULT_FOLLOW_INTERVAL_MS = 1_000;

/**
 * How long one apply waits for readers to let go of their SHARED locks, in ms. While it waits it holds
 * PENDING, so new readers get SQLITE_BUSY instead of starving it; after this it gives up until the next poll.
 */
export const DEFAULT_APPLY_LOCK_TIMEOUT_MS = 5_000;

/** Most LTX files merged into one apply: bounds how long readers are held off; catch-up continues at once. */
export const MAX_APPLY_FILES = 256;

/** Most LTX bytes fetched for one apply (64 MiB), for the same reason and to bound scratch space. */
export const MAX_APPLY_BYTES = 64 * 1024 * 1024;

/**
 * With nothing new in level 0, list levels 1..9 at most this often (ms). A replica whose level-0 files were
 * compacted away, rewound or re-snapshotted is only visible there; 10 LISTs every 10 s is cheap.
 */
export const FULL_SCAN_INTERVAL_MS = 10_000;

/** Longest wait between polls after repeated failures (ms); the interval doubles up to this. */
export const MAX_ERROR_BACKOFF_MS = 30_000;

/** Parallel ranged downloads per apply: L0 files are small, so this is about latency, not bandwidth. */
export const FOLLOW_FETCH_CONCURRENCY = 8;
