/**
 * Checks on the listing alone (no file contents): overlaps within a level, holes in the TXID coverage
 * that restores need, and whether a restore chain reaches the newest TXID.
 *
 * Holes are judged against the point-in-time window the maintainer keeps (compaction/window.ts): inside
 * it, every TXID must be covered by some file of levels 0..8 above the window's anchor snapshot; below it,
 * history is deliberately thinned to the retained snapshots, so holes there are reported as the extent of
 * continuous history, not as problems.
 */

import { filesOf, type Levels, replicaMax } from "../compaction/levels.js";
import { retentionWindow } from "../compaction/window.js";
import { isWalshipError } from "../errors.js";
import { formatTXID } from "../ltx/filename.js";
import { type LtxFileInfo, SNAPSHOT_LEVEL } from "../replica/client.js";
import { planRestore, type RestorePlan } from "../restore/plan.js";
import { fileName, problem, type VerifyProblem } from "./problems.js";

export function overlaps(levels: Levels): VerifyProblem[] {
  const out: VerifyProblem[] = [];
  for (let level = 0; level < SNAPSHOT_LEVEL; level++) {
    let prev: LtxFileInfo | null = null;
    for (const f of filesOf(levels, level)) {
      if (prev && f.minTXID <= prev.maxTXID) {
        out.push(
          problem("overlap", `${fileName(f)} overlaps ${fileName(prev)}`, {
            level,
            minTXID: f.minTXID,
            maxTXID: prev.maxTXID,
          }),
        );
      }
      if (!prev || f.maxTXID > prev.maxTXID) prev = f;
    }
  }
  return out;
}

interface Segment {
  min: bigint;
  max: bigint;
}

/** The union of the TXID ranges of levels 0..8 as disjoint, sorted segments. */
export function coverage(levels: Levels): Segment[] {
  const ranges: Segment[] = [];
  for (let level = 0; level < SNAPSHOT_LEVEL; level++) {
    for (const f of filesOf(levels, level)) ranges.push({ min: f.minTXID, max: f.maxTXID });
  }
  ranges.sort((a, b) => (a.min < b.min ? -1 : a.min > b.min ? 1 : 0));
  const out: Segment[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r.min <= last.max + 1n) {
      if (r.max > last.max) last.max = r.max;
    } else out.push({ ...r });
  }
  return out;
}

export interface Continuity {
  /** Continuous restores are possible for every TXID from `from` to `to` (at file granularity). */
  from: bigint;
  to: bigint;
  /** What the continuous range starts from: a snapshot, or the file holding TXID 1. */
  base: "snapshot" | "txid1";
}

/** The oldest base from which the coverage runs unbroken to the newest TXID. */
export function continuity(levels: Levels): Continuity | null {
  const to = replicaMax(levels);
  if (to === 0n) return null;
  const segs = coverage(levels);
  const live = segs.find((s) => s.min <= to && to <= s.max);
  const snaps = filesOf(levels, SNAPSHOT_LEVEL).filter((s) => s.minTXID === 1n);
  if (live && live.min === 1n) return { from: 1n, to, base: "txid1" };
  const start = live ? live.min : to + 1n;
  let best: bigint | null = null;
  for (const s of snaps) if (s.maxTXID + 1n >= start && (best === null || s.maxTXID < best)) best = s.maxTXID;
  return best === null ? null : { from: best, to, base: "snapshot" };
}

/** Holes above the window's anchor (or the newest snapshot when no snapshot is older than the window). */
export function holes(levels: Levels, now: number, pitrWindowMs: number): VerifyProblem[] {
  const snaps = filesOf(levels, SNAPSHOT_LEVEL);
  const w = retentionWindow(levels, now, pitrWindowMs);
  let from = w.anchor?.maxTXID ?? 0n;
  if (!w.anchor) for (const s of snaps) if (s.maxTXID > from) from = s.maxTXID;
  const out: VerifyProblem[] = [];
  let covered = from; // TXIDs <= covered are accounted for
  for (const s of coverage(levels)) {
    if (s.max <= covered) continue;
    if (s.min > covered + 1n) {
      out.push(
        problem(
          "gap",
          `no file holds TXIDs ${formatTXID(covered + 1n)}..${formatTXID(s.min - 1n)}: restores past them are impossible`,
          { minTXID: covered + 1n, maxTXID: s.min - 1n },
        ),
      );
    }
    covered = s.max;
  }
  return out;
}

export function latestChain(levels: Levels): { plan: RestorePlan | null; problems: VerifyProblem[] } {
  const to = replicaMax(levels);
  if (to === 0n) return { plan: null, problems: [problem("no_chain", "the replica holds no LTX files")] };
  try {
    const plan = planRestore(levels, {});
    if (plan.txid !== to) {
      return {
        plan,
        problems: [
          problem(
            "no_chain",
            `the latest restore stops at TXID ${formatTXID(plan.txid)}, but the replica reaches ${formatTXID(to)}`,
            { minTXID: plan.txid, maxTXID: to },
          ),
        ],
      };
    }
    return { plan, problems: [] };
  } catch (e) {
    if (!isWalshipError(e)) throw e;
    return {
      plan: null,
      problems: [problem("no_chain", `no restore chain to the newest TXID: ${e.message}`)],
    };
  }
}
