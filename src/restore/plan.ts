/**
 * Restore planning (Litestream's rule, so both tools pick the same files): the newest level-9 snapshot at
 * or before the target, then repeatedly the file from any level 0..8 that starts at or before the next
 * TXID and reaches furthest (ties: smaller MinTXID, then higher level, then earlier creation).
 */
import { WalshipError } from "../errors.js";
import { formatTXID } from "../ltx/filename.js";
import { type LtxFileInfo, type ReplicaClient, SNAPSHOT_LEVEL } from "../replica/client.js";

export interface RestoreTarget {
  /** Inclusive target TXID. */
  txid?: bigint;
  /** Only files created strictly before this time (ms since the epoch). */
  timestamp?: number;
}

export interface RestorePlan {
  files: LtxFileInfo[];
  /** The TXID the restored database will be at. */
  txid: bigint;
}

/** Lists every level (level 9 and 8..0) once. */
export async function listAll(
  client: ReplicaClient,
  opts: { signal?: AbortSignal; exactTimestamps?: boolean } = {},
): Promise<Map<number, LtxFileInfo[]>> {
  const levels = new Map<number, LtxFileInfo[]>();
  for (let level = 0; level <= SNAPSHOT_LEVEL; level++) {
    levels.set(level, await client.list(level, opts));
  }
  return levels;
}

function eligible(f: LtxFileInfo, t: RestoreTarget): boolean {
  if (t.txid !== undefined && f.maxTXID > t.txid) return false;
  if (t.timestamp !== undefined && f.createdAt >= t.timestamp) return false;
  return true;
}

function better(a: LtxFileInfo, b: LtxFileInfo): boolean {
  if (a.maxTXID !== b.maxTXID) return a.maxTXID > b.maxTXID;
  if (a.minTXID !== b.minTXID) return a.minTXID < b.minTXID;
  if (a.level !== b.level) return a.level > b.level;
  return a.createdAt < b.createdAt;
}

export function planRestore(
  levels: Map<number, LtxFileInfo[]>,
  target: RestoreTarget,
  what = "replica",
): RestorePlan {
  const files: LtxFileInfo[] = [];
  let current = 0n;
  const snaps = (levels.get(SNAPSHOT_LEVEL) ?? []).filter((f) => f.minTXID === 1n && eligible(f, target));
  const snap = snaps.reduce<LtxFileInfo | null>(
    (best, f) => (best === null || f.maxTXID > best.maxTXID ? f : best),
    null,
  );
  if (snap) {
    files.push(snap);
    current = snap.maxTXID;
  }
  for (;;) {
    if (target.txid !== undefined && current >= target.txid) break;
    let best: LtxFileInfo | null = null;
    for (let level = SNAPSHOT_LEVEL - 1; level >= 0; level--) {
      for (const f of levels.get(level) ?? []) {
        if (f.minTXID > current + 1n) break; // sorted by minTXID: nothing further can start in time
        if (f.maxTXID <= current || !eligible(f, target)) continue;
        if (current === 0n && f.minTXID !== 1n) continue;
        if (best === null || better(f, best)) best = f;
      }
    }
    if (!best) break;
    files.push(best);
    current = best.maxTXID;
  }
  if (files.length === 0) throw nothingToRestore(levels, target, what);
  if (target.txid !== undefined && current < target.txid) {
    throw new WalshipError(
      "replica_not_found",
      `TXID ${formatTXID(target.txid)} is not available in ${what} (newest reachable: ${formatTXID(current)})`,
      {
        op: "restore plan",
        context: { txid: target.txid },
        hint: "list restore points with `walship ltx <replica-url> --level all`",
      },
    );
  }
  if (target.txid === undefined && target.timestamp === undefined) {
    // A file that starts beyond the chain means a hole: "latest" would silently be older than it claims.
    for (let level = 0; level < SNAPSHOT_LEVEL; level++) {
      const gap = (levels.get(level) ?? []).find((f) => f.minTXID > current + 1n);
      if (gap) {
        throw new WalshipError(
          "replica_gap",
          `non-contiguous LTX files: chain ends at ${formatTXID(current)} but level ${level} has ${formatTXID(gap.minTXID)}-${formatTXID(gap.maxTXID)}`,
          {
            op: "restore plan",
            context: { level, minTXID: gap.minTXID, maxTXID: gap.maxTXID },
            hint: "restore an earlier point with --txid, or run `walship snapshot` on the source to start a new chain",
          },
        );
      }
    }
  }
  return { files, txid: current };
}

/** Why no file qualified: an empty replica, a chain without its start, or a target before everything. */
function nothingToRestore(
  levels: Map<number, LtxFileInfo[]>,
  target: RestoreTarget,
  what: string,
): WalshipError {
  const all = [...levels.values()].flat();
  const op = "restore plan";
  if (all.length === 0) {
    return new WalshipError("replica_not_found", `no backup files available in ${what}`, {
      op,
      hint: "check the replica URL; the database may never have been replicated there",
    });
  }
  const oldest = all.reduce((a, b) => (b.createdAt < a.createdAt ? b : a));
  if (target.timestamp !== undefined && all.every((f) => f.createdAt >= target.timestamp!)) {
    return new WalshipError(
      "replica_not_found",
      `no restore point before ${new Date(target.timestamp).toISOString()} in ${what} (the oldest file was written at ${new Date(oldest.createdAt).toISOString()})`,
      { op, hint: "give a later --timestamp, or none for the latest state" },
    );
  }
  const first = all.reduce((a, b) => (b.minTXID < a.minTXID ? b : a));
  return new WalshipError(
    "replica_not_found",
    `${what} has no snapshot and no chain from TXID 1 (its oldest file starts at ${formatTXID(first.minTXID)}), so nothing can be restored`,
    {
      op,
      context: { minTXID: first.minTXID },
      hint: "the files before it were deleted; run `walship snapshot` on the source to start a restorable chain",
    },
  );
}
