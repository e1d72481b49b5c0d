/** What the harness tells a walship child (walship-child.mjs) through CHAOS_CHILD. */
import type { FaultPlan } from "../../src/replica/faulty.js";
import type { S3ClientOptions } from "../../src/replica/s3/client.js";

/** Where a child kills itself with SIGKILL (see walship-child.mjs). */
export const KILL_POINTS = [
  "checkpoint",
  "barrier",
  "stage",
  "snapshot",
  "upload",
  "uploaded",
  "compact",
] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

export interface ChildConfig {
  db: string;
  /** A directory replica (faults from FaultyReplicaClient) or S3 options (faults from the proxy). */
  replica: { dir: string; faults: FaultPlan; seed: number } | { s3: S3ClientOptions };
  syncIntervalMs: number;
  minCheckpointPages: number;
  checkpointIntervalMs: number;
  snapshotIntervalMs: number;
  truncatePages: number;
  /** Run compaction (levels 1 and 2 every 1 s and 3 s; nothing deleted, so every TXID stays restorable). */
  compaction: boolean;
  killAt?: { point: KillPoint; nth: number };
}
