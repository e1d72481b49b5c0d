/**
 * Defaults of the config-only settings, each with its unit and reason. The replication defaults
 * (sync interval, checkpoints, snapshots) live in src/defaults.ts and are shared with the CLI flags.
 */

/** Where /metrics, /health and the dashboard listen: loopback, so nothing is exposed unless asked for. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";
/** Port of the metrics listener: unassigned by IANA and unlikely to clash with app ports. */
export const DEFAULT_METRICS_PORT = 16767;
/** Per-attempt timeout of a webhook POST (ms): a slow receiver must not hold a delivery slot for long. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5_000;
/** Attempts per webhook delivery: with backoff from 1 s this spans about a minute of receiver downtime. */
export const DEFAULT_WEBHOOK_MAX_ATTEMPTS = 6;
/** File name looked for in the working directory when no --config is given. */
export const DEFAULT_CONFIG_FILE = "walship.toml";
