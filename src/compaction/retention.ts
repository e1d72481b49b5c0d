/**
 * What retention may delete, and proof that deleting it keeps restores working.
 *
 * Rules (window.ts defines the anchor and the floor):
 * - Snapshots: grandfather-father-son (gfs.ts), plus the two newest and the window's anchor.
 * - L1..L8: files with maxTXID <= floor. Every restore inside the window starts at the anchor or a newer
 *   snapshot and only needs TXIDs above the floor; files entirely at or below it serve none of them.
 *   (Litestream uses the newest *deleted* snapshot as its floor, which keeps more than needed.)
 * - L0: files with maxTXID <= floor, and files older than the L0 retention that lie entirely inside one
 *   surviving L1..L8 file. Containment, not Litestream's "maxTXID <= L1 max", because compacted levels
 *   start at the window base (#1510 fix): the L0 files before it are not covered by L1 and must stay
 *   until the floor passes them.
 * - Never: the newest file of any level, or any file of the current latest restore plan.
 *
 * The rules are then checked by simulation: the latest restore and the restore from the window's anchor
 * (or TXID 1) must still reach the newest TXID after the deletions whenever they did before. If they
 * would not, the incremental deletions are dropped, and if that is not enough, all of them.
 */
import { isWalshipError } from "../errors.js";
import { formatTXID } from "../ltx/filename.js";
import { type LtxFileInfo, SNAPSHOT_LEVEL } from "../replica/client.js";
import { planRestore } from "../restore/plan.js";
import { selectSnapshots } from "./gfs.js";
import { fileKey, filesOf, type Levels, newestOf, replicaMax, withoutFiles } from "./levels.js";
import type { Policy } from "./policy.js";
import { type RetentionWindow, retentionWindow } from "./window.js";

export interface Deletion {
  file: LtxFileInfo;
  reason: string;
}

export interface KeptSnapshot {
  file: LtxFileInfo;
  reasons: string[];
}

export interface RetentionPlan {
  window: RetentionWindow;
  snapshots: KeptSnapshot[];
  deletions: Deletion[];
  /** Set when the simulation vetoed some or all of the rule-based deletions. */
  blocked?: string;
}

/** Whether the latest restore reaches the newest TXID (false when it fails or stops short). */
export function latestReaches(levels: Levels, target: bigint): boolean {
  try {
    return planRestore(levels, {}).txid === target;
  } catch (e) {
    if (isWalshipError(e)) return false;
    throw e;
  }
}

/** The same, but starting from the anchor (or TXID 1): the whole window, not just the newest snapshot. */
export function windowReaches(levels: Levels, floor: bigint, target: bigint): boolean {
  const restricted = new Map(levels);
  restricted.set(
    SNAPSHOT_LEVEL,
    filesOf(levels, SNAPSHOT_LEVEL).filter((s) => s.maxTXID <= floor),
  );
  return latestReaches(restricted, target);
}

function latestPlanKeys(levels: Levels): Set<string> {
  try {
    return new Set(planRestore(levels, {}).files.map(fileKey));
  } catch (e) {
    if (isWalshipError(e)) return new Set();
    throw e;
  }
}

/** Sorted compacted intervals with a running max, to answer "is [min,max] inside one of them". */
function containment(files: LtxFileInfo[]): (min: bigint, max: bigint) => boolean {
  const sorted = [...files].sort((a, b) => (a.minTXID < b.minTXID ? -1 : a.minTXID > b.minTXID ? 1 : 0));
  const reach: bigint[] = [];
  let best = 0n;
  for (const f of sorted) {
    if (f.maxTXID > best) best = f.maxTXID;
    reach.push(best);
  }
  return (min, max) => {
    let lo = 0;
    let hi = sorted.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.minTXID <= min) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at >= 0 && reach[at]! >= max;
  };
}

function ruleDeletions(
  levels: Levels,
  now: number,
  policy: Policy,
  w: RetentionWindow,
  kept: Map<LtxFileInfo, string[]>,
): Deletion[] {
  const out: Deletion[] = [];
  const protectedKeys = latestPlanKeys(levels);
  for (let level = 0; level <= SNAPSHOT_LEVEL; level++) {
    const n = newestOf(levels, level);
    if (n) protectedKeys.add(fileKey(n));
  }
  const deletable = (f: LtxFileInfo) => !protectedKeys.has(fileKey(f));
  const floorText = `at or below the window floor ${formatTXID(w.floor)}`;

  for (const s of filesOf(levels, SNAPSHOT_LEVEL)) {
    if (!kept.has(s) && deletable(s)) out.push({ file: s, reason: "not kept by the snapshot policy" });
  }

  const surviving: LtxFileInfo[] = [];
  for (let level = 1; level < SNAPSHOT_LEVEL; level++) {
    for (const f of filesOf(levels, level)) {
      if (f.maxTXID <= w.floor && deletable(f)) out.push({ file: f, reason: floorText });
      else surviving.push(f);
    }
  }
  const covered = containment(surviving);
  const oldEnough = now - policy.l0RetentionMs;
  for (const f of filesOf(levels, 0)) {
    if (!deletable(f)) continue;
    if (f.maxTXID <= w.floor) out.push({ file: f, reason: floorText });
    else if (f.createdAt <= oldEnough && covered(f.minTXID, f.maxTXID)) {
      out.push({ file: f, reason: "compacted, and older than the L0 retention" });
    }
  }
  return out;
}

/** Whether deleting `drop` keeps every restore property that holds now. */
export function deletionIsSafe(levels: Levels, drop: readonly LtxFileInfo[], floor: bigint): boolean {
  const target = replicaMax(levels);
  const after = withoutFiles(levels, drop);
  if (replicaMax(after) !== target) return false;
  if (latestReaches(levels, target) && !latestReaches(after, target)) return false;
  if (windowReaches(levels, floor, target) && !windowReaches(after, floor, target)) return false;
  return true;
}

export function planRetention(levels: Levels, now: number, policy: Policy): RetentionPlan {
  const window = retentionWindow(levels, now, policy.pitrWindowMs);
  const kept = selectSnapshots(filesOf(levels, SNAPSHOT_LEVEL), policy.gfs);
  if (window.anchor) kept.set(window.anchor, [...(kept.get(window.anchor) ?? []), "window anchor"]);
  const snapshots = [...kept].map(([file, reasons]) => ({ file, reasons }));
  if (!policy.retention) return { window, snapshots, deletions: [] };
  const all = ruleDeletions(levels, now, policy, window, kept);
  if (
    deletionIsSafe(
      levels,
      all.map((d) => d.file),
      window.floor,
    )
  )
    return { window, snapshots, deletions: all };
  const snapOnly = all.filter((d) => d.file.level === SNAPSHOT_LEVEL);
  if (
    deletionIsSafe(
      levels,
      snapOnly.map((d) => d.file),
      window.floor,
    )
  ) {
    return {
      window,
      snapshots,
      deletions: snapOnly,
      blocked: "deleting compacted or L0 files would break a restore chain; kept them",
    };
  }
  return {
    window,
    snapshots,
    deletions: [],
    blocked: "deleting would break a restore chain; kept everything",
  };
}
