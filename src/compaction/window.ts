/**
 * The retention window: which snapshot anchors point-in-time history, and where compaction chains start.
 *
 * anchor = the newest snapshot created strictly before now - pitrWindow. Every moment inside the window
 * lies after the anchor, so the anchor plus every incremental file above its TXID (the floor) restores
 * any of them; incremental files at or below the floor serve no restore inside the window.
 *
 * Without an anchor (a young database) the window reaches back to TXID 1 and nothing incremental is
 * below the floor (0).
 *
 * base = the TXID after which compacted levels begin: the anchor's, or, without one, the smallest maxTXID
 * of any file that starts at TXID 1 (typically the first snapshot or the first L0 file, which hold the
 * whole database). Starting an empty level at base + 1 rather than at TXID 1 is the fix for Litestream's
 * #1510: the database-sized first file is never merged into every level, and restores stay whole because
 * that first file (or the anchor) is kept as the chain's start.
 */
import type { LtxFileInfo } from "../replica/client.js";
import { SNAPSHOT_LEVEL } from "../replica/client.js";
import { filesOf, type Levels } from "./levels.js";

export interface RetentionWindow {
  anchor: LtxFileInfo | null;
  /** Incremental files with maxTXID <= floor are not needed by any restore in the window. */
  floor: bigint;
  /** Compacted levels start at base + 1. */
  base: bigint;
  /** now - pitrWindowMs. */
  start: number;
}

export function retentionWindow(levels: Levels, now: number, pitrWindowMs: number): RetentionWindow {
  const start = now - pitrWindowMs;
  let anchor: LtxFileInfo | null = null;
  for (const s of filesOf(levels, SNAPSHOT_LEVEL)) {
    if (s.minTXID !== 1n || s.createdAt >= start) continue;
    if (!anchor || s.maxTXID > anchor.maxTXID) anchor = s;
  }
  if (anchor) return { anchor, floor: anchor.maxTXID, base: anchor.maxTXID, start };
  let base = 0n;
  for (let level = 0; level <= SNAPSHOT_LEVEL; level++) {
    for (const f of filesOf(levels, level)) {
      if (f.minTXID === 1n && (base === 0n || f.maxTXID < base)) base = f.maxTXID;
    }
  }
  return { anchor: null, floor: 0n, base, start };
}
