/**
 * Which replica files take a follower from its TXID forward. Level 0 first, as Litestream's follow mode
 * does: new transactions appear there first and each file is small. When level 0 does not continue (its
 * files were compacted away while the follower was stopped), the file of levels 1..8 that starts at or
 * before the next TXID and reaches furthest bridges the hole. Overlap is fine: a compacted file holds
 * each page's newest copy within its range, so applying it over any state inside that range lands on
 * its end state. Level-9 snapshots are not used here: reaching one means bootstrapping again.
 */
import type { LtxFileInfo } from "../replica/client.js";
import { SNAPSHOT_LEVEL } from "../replica/client.js";

export interface CatchUpLimits {
  maxFiles: number;
  maxBytes: number;
}

export interface CatchUp {
  files: LtxFileInfo[];
  /** The TXID the files reach (the start TXID when there are none). */
  txid: bigint;
}

/** Per level: a cursor over files sorted by minTXID and the furthest-reaching file passed so far. */
class LevelCursor {
  private i = 0;
  private best: LtxFileInfo | null = null;

  constructor(private readonly files: readonly LtxFileInfo[]) {}

  candidate(current: bigint): LtxFileInfo | null {
    while (this.i < this.files.length && this.files[this.i]!.minTXID <= current + 1n) {
      const f = this.files[this.i++]!;
      if (this.best === null || f.maxTXID > this.best.maxTXID) this.best = f;
    }
    return this.best && this.best.maxTXID > current ? this.best : null;
  }
}

export function planCatchUp(
  levels: ReadonlyMap<number, readonly LtxFileInfo[]>,
  from: bigint,
  limits: CatchUpLimits,
): CatchUp {
  const cursors: LevelCursor[] = [];
  for (let level = 0; level < SNAPSHOT_LEVEL; level++) cursors.push(new LevelCursor(levels.get(level) ?? []));
  const files: LtxFileInfo[] = [];
  let bytes = 0;
  let current = from;
  while (files.length < limits.maxFiles && (files.length === 0 || bytes < limits.maxBytes)) {
    let next = cursors[0]!.candidate(current);
    if (!next) {
      for (let level = 1; level < SNAPSHOT_LEVEL; level++) {
        const c = cursors[level]!.candidate(current);
        if (c && (next === null || c.maxTXID > next.maxTXID)) next = c;
      }
    }
    if (!next) break;
    // A big compacted file after small ones waits for the next apply, so one apply stays small.
    if (files.length > 0 && bytes + next.size > limits.maxBytes) break;
    files.push(next);
    bytes += next.size;
    current = next.maxTXID;
  }
  return { files, txid: current };
}

/** The newest TXID anywhere in the listing (0 for an empty replica). */
export function newestTXID(levels: ReadonlyMap<number, readonly LtxFileInfo[]>): bigint {
  let max = 0n;
  for (const files of levels.values()) for (const f of files) if (f.maxTXID > max) max = f.maxTXID;
  return max;
}

/** When the oldest file holding something past `txid` reached the replica (ms), or null. */
export function oldestPendingAt(
  levels: ReadonlyMap<number, readonly LtxFileInfo[]>,
  txid: bigint,
): number | null {
  let at: number | null = null;
  for (const files of levels.values()) {
    for (const f of files) if (f.maxTXID > txid && (at === null || f.createdAt < at)) at = f.createdAt;
  }
  return at;
}
