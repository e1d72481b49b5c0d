/**
 * Picks the inputs of one compaction: the files of the source level that are newer than the target
 * level's max TXID, as one contiguous run, starting no lower than the window's base (see window.ts).
 *
 * Only files that start above the target's max are taken (Litestream's rule), so files within one level
 * never overlap. A run stops at a gap in the source level; if the run does not begin right at the start
 * TXID the job says so (`gapBefore`) so the caller can re-list before trusting its cached listing.
 */
import type { LtxFileInfo } from "../replica/client.js";
import { filesOf, type Levels, levelMax } from "./levels.js";

export interface CompactionJob {
  level: number;
  sourceLevel: number;
  inputs: LtxFileInfo[];
  minTXID: bigint;
  maxTXID: bigint;
  /** Sum of the input sizes: an upper bound on the output size. */
  inputBytes: number;
  /** The first TXID the target level needed. */
  start: bigint;
  /** The run begins above `start`: the source level (or its cached listing) has a hole there. */
  gapBefore: boolean;
  /** More source files follow the run (a gap, or maxInputs reached). */
  truncated: boolean;
}

export function selectCompaction(
  levels: Levels,
  level: number,
  sourceLevel: number,
  base: bigint,
  maxInputs: number,
): CompactionJob | null {
  const targetMax = levelMax(levels, level);
  const start = (targetMax > base ? targetMax : base) + 1n;
  const candidates = filesOf(levels, sourceLevel).filter((f) => f.minTXID > targetMax && f.maxTXID >= start);
  if (candidates.length === 0) return null;
  const run: LtxFileInfo[] = [candidates[0]!];
  let prevMax = candidates[0]!.maxTXID;
  let truncated = false;
  for (let i = 1; i < candidates.length; i++) {
    const f = candidates[i]!;
    if (f.maxTXID <= prevMax) continue; // inside the run already (an overlap in the source level)
    if (f.minTXID > prevMax + 1n || run.length >= maxInputs) {
      truncated = true;
      break;
    }
    run.push(f);
    prevMax = f.maxTXID;
  }
  return {
    level,
    sourceLevel,
    inputs: run,
    minTXID: run[0]!.minTXID,
    maxTXID: prevMax,
    inputBytes: run.reduce((n, f) => n + f.size, 0),
    start,
    gapBefore: run[0]!.minTXID > start,
    truncated,
  };
}
