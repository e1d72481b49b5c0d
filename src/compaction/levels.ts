/** A replica's listing, level by level, and the small queries the planners ask of it. */

import { type LtxFileInfo, SNAPSHOT_LEVEL } from "../replica/client.js";
import { compareLtxInfo } from "../replica/file.js";

/** Level number -> files sorted by (minTXID, maxTXID), the ReplicaClient.list order. */
export type Levels = Map<number, LtxFileInfo[]>;

export function cloneLevels(levels: Levels): Levels {
  const out: Levels = new Map();
  for (let level = 0; level <= SNAPSHOT_LEVEL; level++) out.set(level, [...(levels.get(level) ?? [])]);
  return out;
}

export function filesOf(levels: Levels, level: number): LtxFileInfo[] {
  return levels.get(level) ?? [];
}

/** Highest maxTXID at a level, 0 when empty. */
export function levelMax(levels: Levels, level: number): bigint {
  let max = 0n;
  for (const f of filesOf(levels, level)) if (f.maxTXID > max) max = f.maxTXID;
  return max;
}

/** Highest maxTXID anywhere: the replica's position. */
export function replicaMax(levels: Levels): bigint {
  let max = 0n;
  for (let level = 0; level <= SNAPSHOT_LEVEL; level++) {
    const m = levelMax(levels, level);
    if (m > max) max = m;
  }
  return max;
}

/** The file with the highest maxTXID at a level (Litestream keeps it whatever the retention says). */
export function newestOf(levels: Levels, level: number): LtxFileInfo | null {
  let best: LtxFileInfo | null = null;
  for (const f of filesOf(levels, level)) if (!best || f.maxTXID > best.maxTXID) best = f;
  return best;
}

export function sameFile(a: LtxFileInfo, b: LtxFileInfo): boolean {
  return a.level === b.level && a.minTXID === b.minTXID && a.maxTXID === b.maxTXID;
}

export function fileKey(f: { level: number; minTXID: bigint; maxTXID: bigint }): string {
  return `${f.level}/${f.minTXID.toString(16)}-${f.maxTXID.toString(16)}`;
}

export function insertSorted(files: LtxFileInfo[], f: LtxFileInfo): void {
  const i = files.findIndex((x) => compareLtxInfo(x, f) >= 0);
  if (i >= 0 && compareLtxInfo(files[i]!, f) === 0) files[i] = f;
  else if (i < 0) files.push(f);
  else files.splice(i, 0, f);
}

export function withoutFiles(levels: Levels, drop: readonly LtxFileInfo[]): Levels {
  const keys = new Set(drop.map(fileKey));
  const out: Levels = new Map();
  for (const [level, files] of levels)
    out.set(
      level,
      files.filter((f) => !keys.has(fileKey(f))),
    );
  return out;
}
