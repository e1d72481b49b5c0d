/**
 * The pure planners on synthetic listings: the window's anchor and base, input selection (the #1510
 * start), grandfather-father-son snapshot selection, and retention with its safety veto.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { selectSnapshots } from "../../src/compaction/gfs.js";
import type { Levels } from "../../src/compaction/levels.js";
import { resolvePolicy } from "../../src/compaction/policy.js";
import { deletionIsSafe, planRetention } from "../../src/compaction/retention.js";
import { selectCompaction } from "../../src/compaction/select.js";
import { retentionWindow } from "../../src/compaction/window.js";
import { isWalshipError } from "../../src/errors.js";
import type { LtxFileInfo } from "../../src/replica/client.js";
import { planRestore } from "../../src/restore/plan.js";

const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;

function f(level: number, min: number, max: number, createdAt = T0, size = 100): LtxFileInfo {
  return { level, minTXID: BigInt(min), maxTXID: BigInt(max), size, createdAt };
}

function levelsOf(files: LtxFileInfo[]): Levels {
  const m: Levels = new Map();
  for (let l = 0; l <= 9; l++) m.set(l, []);
  for (const x of files) m.get(x.level)!.push(x);
  for (const list of m.values())
    list.sort((a, b) => (a.minTXID < b.minTXID ? -1 : a.minTXID > b.minTXID ? 1 : 0));
  return m;
}

function names(files: LtxFileInfo[]): string[] {
  return files.map((x) => `L${x.level}:${x.minTXID}-${x.maxTXID}`);
}

test("window: the anchor is the newest snapshot older than the window; without one the base is the first full file", () => {
  const snaps = [f(9, 1, 1, T0), f(9, 1, 50, T0 + 2 * HOUR), f(9, 1, 90, T0 + 5 * HOUR)];
  const w = retentionWindow(levelsOf([...snaps, f(0, 1, 1)]), T0 + 6 * HOUR, 2 * HOUR);
  assert.equal(w.anchor?.maxTXID, 50n);
  assert.equal(w.floor, 50n);
  assert.equal(w.base, 50n);
  const young = retentionWindow(levelsOf([...snaps, f(0, 1, 1)]), T0 + HOUR, 24 * HOUR);
  assert.equal(young.anchor, null);
  assert.equal(young.floor, 0n);
  assert.equal(young.base, 1n, "chains start after the TXID-1 file, not at it (#1510)");
});

test("select: an empty level starts after the base, a non-empty one after its max; runs stop at gaps and at maxInputs", () => {
  const l0 = [1, 2, 3, 4, 5, 6].map((t) => f(0, t, t));
  const first = selectCompaction(levelsOf(l0), 1, 0, 1n, 64)!;
  assert.deepEqual(names(first.inputs), ["L0:2-2", "L0:3-3", "L0:4-4", "L0:5-5", "L0:6-6"]);
  assert.equal(first.gapBefore, false);
  const next = selectCompaction(levelsOf([...l0, f(1, 2, 4)]), 1, 0, 1n, 64)!;
  assert.deepEqual([next.minTXID, next.maxTXID], [5n, 6n]);
  assert.equal(selectCompaction(levelsOf([...l0, f(1, 2, 6)]), 1, 0, 1n, 64), null);
  const holed = selectCompaction(levelsOf([f(0, 2, 2), f(0, 3, 3), f(0, 5, 5)]), 1, 0, 1n, 64)!;
  assert.deepEqual([holed.maxTXID, holed.truncated], [3n, true]);
  const capped = selectCompaction(levelsOf(l0), 1, 0, 1n, 2)!;
  assert.deepEqual([capped.minTXID, capped.maxTXID, capped.truncated], [2n, 3n, true]);
  // A level that fell below the floor restarts above it, from the source file straddling it.
  const below = selectCompaction(levelsOf([f(3, 2, 10), f(2, 40, 55), f(2, 56, 60)]), 3, 2, 50n, 64)!;
  assert.deepEqual([below.minTXID, below.maxTXID, below.gapBefore], [40n, 60n, false]);
});

test("gfs: newest per hour/day/ISO week/month bucket with snapshots, plus the two newest", () => {
  const snaps: LtxFileInfo[] = [];
  let txid = 1;
  // Every 6 hours for 70 days.
  for (let t = T0; t < T0 + 70 * 24 * HOUR; t += 6 * HOUR) snaps.push(f(9, 1, txid++, t));
  const kept = selectSnapshots(snaps, { hourly: 3, daily: 4, weekly: 3, monthly: 2 });
  const reasons = (why: string) =>
    [...kept].filter(([, r]) => r.includes(why)).map(([s]) => new Date(s.createdAt).toISOString());
  assert.equal(reasons("hourly").length, 3);
  assert.equal(reasons("daily").length, 4);
  assert.equal(reasons("weekly").length, 3);
  assert.equal(reasons("monthly").length, 2);
  assert.equal(reasons("newest").length, 1);
  // The daily picks are the last snapshot (18:00) of each of the four newest days.
  assert.ok(reasons("daily").every((iso) => iso.endsWith("T18:00:00.000Z")));
  // Monthly: the newest of March (the last day) and of February.
  assert.deepEqual(
    reasons("monthly").map((iso) => iso.slice(0, 7)),
    ["2024-03", "2024-02"],
  );
  // Weeks start on Monday: 2024-03-04 is a Monday, so the week before ends on Sunday 2024-03-03 18:00.
  assert.ok(reasons("weekly").includes("2024-03-03T18:00:00.000Z"));
  const none = selectSnapshots(snaps, { hourly: 0, daily: 0, weekly: 0, monthly: 0 });
  assert.equal(none.size, 2, "the two newest always stay");
});

test("retention: L0 by containment and age, compacted files by the floor, snapshots by gfs; the newest of each level stays", () => {
  const now = T0 + 30 * HOUR;
  const policy = resolvePolicy({
    pitrWindowMs: 24 * HOUR,
    gfs: { hourly: 1, daily: 0, weekly: 0, monthly: 0 },
  });
  const files = [
    f(9, 1, 1, T0),
    f(9, 1, 40, T0 + 2 * HOUR), // the anchor: newest older than now - 24 h
    f(9, 1, 45, now - 10 * HOUR), // inside the window, not kept by gfs, covered by the chain from the anchor
    f(9, 1, 70, now - 5 * HOUR), // the second newest: always kept
    f(9, 1, 100, now - HOUR),
    f(0, 1, 1, T0),
    ...Array.from({ length: 20 }, (_, i) => f(0, 101 + i, 101 + i, now - (20 - i) * MIN)),
    f(1, 2, 39, T0 + 2 * HOUR),
    f(1, 40, 41, T0 + 2 * HOUR), // max above the floor: kept
    f(1, 42, 100, now - 2 * HOUR),
    f(1, 101, 110, now - 10 * MIN),
    f(2, 2, 30, T0 + HOUR), // below the floor, but not the newest L2
    f(2, 31, 100, now - HOUR),
    f(3, 2, 30, T0 + HOUR), // below the floor, but the newest L3: kept
  ];
  const plan = planRetention(levelsOf(files), now, policy);
  assert.equal(plan.blocked, undefined);
  assert.deepEqual(
    names(plan.deletions.map((d) => d.file)).sort(),
    [
      "L0:1-1",
      ...Array.from({ length: 10 }, (_, i) => `L0:${101 + i}-${101 + i}`).filter((n) => {
        const t = Number(n.split("-")[1]);
        return now - (20 - (t - 101)) * MIN <= now - 5 * MIN;
      }),
      "L1:2-39",
      "L2:2-30",
      "L9:1-1",
      "L9:1-45",
    ].sort(),
  );
  assert.equal(plan.window.floor, 40n);
});

test("retention: the simulation vetoes deletions that would break the latest or the window chain", () => {
  const files = [f(9, 1, 1), f(0, 2, 2), f(0, 3, 3), f(0, 4, 4), f(1, 2, 3)];
  const levels = levelsOf(files);
  assert.equal(deletionIsSafe(levels, [files[1]!, files[2]!], 0n), true, "2 and 3 are inside L1 2-3");
  assert.equal(deletionIsSafe(levels, [files[4]!, files[1]!], 0n), false, "then nothing holds TXID 2");
  assert.equal(deletionIsSafe(levels, [files[3]!], 0n), false, "the newest TXID would be lost");
  // Without the snapshot the chain starts at TXID 1: its first file is protected too.
  const noSnap = levelsOf([f(0, 1, 1), f(0, 2, 2), f(1, 2, 2), f(0, 3, 3)]);
  const plan = planRetention(noSnap, T0 + HOUR, resolvePolicy({}));
  assert.deepEqual(names(plan.deletions.map((d) => d.file)), ["L0:2-2"]);
  const after = levelsOf([f(0, 1, 1), f(1, 2, 2), f(0, 3, 3)]);
  assert.equal(planRestore(after, {}).txid, 3n);
});

test("policy: levels must be 1..n in order with sane intervals", () => {
  assert.throws(
    () => resolvePolicy({ levels: [{ level: 2, intervalMs: 30_000 }] }),
    (e) => isWalshipError(e, "config"),
  );
  assert.throws(
    () => resolvePolicy({ levels: [{ level: 1, intervalMs: 10 }] }),
    (e) => isWalshipError(e, "config"),
  );
  assert.equal(resolvePolicy({ levels: [{ level: 1, intervalMs: 1000 }] }).levels.length, 1);
});
