/**
 * When walship checkpoints (Litestream's rules, so switching tools keeps WAL behaviour): the emergency
 * TRUNCATE at truncatePages, PASSIVE at minPages, and PASSIVE once the interval has passed since the last
 * checkpoint when something was written since (so an idle database is never checkpointed for nothing).
 */
export interface CheckpointPolicy {
  minPages: number;
  intervalMs: number;
  /** Negative disables the emergency checkpoint. */
  truncatePages: number;
}

export interface CheckpointState {
  walPages: number;
  syncedSinceCheckpoint: boolean;
  msSinceCheckpoint: number;
}

export function checkpointDue(p: CheckpointPolicy, s: CheckpointState): "PASSIVE" | "TRUNCATE" | null {
  if (p.truncatePages >= 0 && s.walPages >= p.truncatePages) return "TRUNCATE";
  if (s.walPages >= p.minPages) return "PASSIVE";
  if (s.syncedSinceCheckpoint && s.walPages > 1 && p.intervalMs > 0 && s.msSinceCheckpoint >= p.intervalMs) {
    return "PASSIVE";
  }
  return null;
}
