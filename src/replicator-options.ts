/** The Replicator's options, events and status, and the defaults it resolves. */
import { type Clock, systemClock } from "./clock.js";
import type { MaintainerOptions, MaintenanceEvent } from "./compaction/maintainer.js";
import { defaultMetaDir } from "./db/staging.js";
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_MIN_CHECKPOINT_PAGES,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TRUNCATE_PAGES,
} from "./defaults.js";
import type { WalshipError } from "./errors.js";
import type { LeaseOptions } from "./lease/index.js";
import type { ReplicaClient } from "./replica/client.js";
import type { SqliteDriver } from "./sqlite/handle.js";
import type { UploaderStatus } from "./upload/uploader.js";
import type { ValidationResult } from "./verify/periodic.js";

export type ReplicaEvent =
  | { type: "synced"; db: string; txid: bigint; pages: number; full: boolean }
  | { type: "uploaded"; db: string; minTXID: bigint; maxTXID: bigint; bytes: number }
  | { type: "checkpointed"; db: string; mode: "PASSIVE" | "TRUNCATE"; durationMs: number; busy: number }
  | { type: "snapshot"; db: string; txid: bigint; bytes: number }
  | { type: "error"; db: string; error: WalshipError; fatal: boolean }
  | { type: "warning"; db: string; message: string }
  | { type: "maintenance"; db: string; event: MaintenanceEvent }
  | ({ type: "validation"; db: string } & ValidationResult);

export interface ReplicatorOptions {
  db: string;
  replica: ReplicaClient;
  metaDir?: string;
  syncIntervalMs?: number;
  busyTimeoutMs?: number;
  minCheckpointPages?: number;
  checkpointIntervalMs?: number;
  /** Emergency TRUNCATE threshold in WAL frames; a negative value disables it. */
  truncatePages?: number;
  /** 0 disables periodic snapshots (one is still taken when the replica has none). */
  snapshotIntervalMs?: number;
  /**
   * Check the whole replica (every file's checksum and structure, TXID continuity, the restore chain) this
   * often in ms, in the background, and report a "validation" event. 0 or omitted: off (it costs a GET per
   * replica file). The first check runs one interval after start.
   */
  validateIntervalMs?: number;
  /** SQLite driver for walship's own connections (default: the bundled better-sqlite3). */
  driver?: SqliteDriver;
  /** Take a snapshot at start when the replica has none (default true). */
  initialSnapshot?: boolean;
  clock?: Clock;
  onEvent?: (e: ReplicaEvent) => void;
  /**
   * Compaction and retention policy (src/compaction/policy.ts defaults for what is left out). Omitted or
   * false: no maintenance here (the CLI and the library's replicate() pass a policy; a bare Replicator,
   * as tests drive it, leaves the replica as uploaded).
   */
  maintenance?: Omit<MaintainerOptions, "clock" | "localL0" | "onEvent"> | false;
  /**
   * Single-writer lease on the replica path (src/lease), taken before the first write and renewed every
   * TTL/3; losing it stops uploads with a fatal error event. Default on; false replicates without one
   * (Litestream's behaviour).
   */
  lease?: boolean | LeaseOptions;
}

export interface ReplicatorStatus {
  db: string;
  replica: string;
  txid: string;
  replicaTXID: string;
  walBytes: number;
  lastSyncAt: number | null;
  upload: Omit<UploaderStatus, "replicaTXID">;
  /** Seconds the replica is behind the newest captured transaction (0 when caught up). */
  lagSeconds: number;
}

export type ResolvedReplicatorOptions = Required<
  Omit<ReplicatorOptions, "onEvent" | "metaDir" | "driver" | "maintenance" | "lease">
> & { metaDir: string };

/** Fills in the defaults (src/defaults.ts) for what the caller left out. */
export function resolveReplicatorOptions(opts: ReplicatorOptions): ResolvedReplicatorOptions {
  return {
    db: opts.db,
    replica: opts.replica,
    metaDir: opts.metaDir ?? defaultMetaDir(opts.db),
    syncIntervalMs: opts.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS,
    busyTimeoutMs: opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    minCheckpointPages: opts.minCheckpointPages ?? DEFAULT_MIN_CHECKPOINT_PAGES,
    checkpointIntervalMs: opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
    truncatePages: opts.truncatePages ?? DEFAULT_TRUNCATE_PAGES,
    snapshotIntervalMs: opts.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS,
    initialSnapshot: opts.initialSnapshot ?? true,
    validateIntervalMs: opts.validateIntervalMs ?? 0,
    clock: opts.clock ?? systemClock,
  };
}
