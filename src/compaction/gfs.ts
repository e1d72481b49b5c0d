/**
 * Grandfather-father-son selection of snapshots, with restic's semantics: for each of the last N hours
 * (days, ISO weeks, months; UTC) that hold at least one snapshot, keep that bucket's newest snapshot.
 * Counting buckets that have snapshots, not calendar buckets back from now, means an idle database keeps
 * its history instead of aging it out, and the number kept is bounded by the sum of the counts plus the
 * MIN_SNAPSHOTS_KEPT newest.
 */
import type { LtxFileInfo } from "../replica/client.js";
import type { GfsPolicy } from "./policy.js";
import { MIN_SNAPSHOTS_KEPT } from "./policy.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** 1970-01-01 was a Thursday; shifting by 3 days makes weeks start on Monday (ISO 8601). */
const EPOCH_TO_MONDAY_DAYS = 3;

type Bucket = (ms: number) => number;

const buckets: Record<keyof GfsPolicy, Bucket> = {
  hourly: (ms) => Math.floor(ms / HOUR_MS),
  daily: (ms) => Math.floor(ms / DAY_MS),
  weekly: (ms) => Math.floor((Math.floor(ms / DAY_MS) + EPOCH_TO_MONDAY_DAYS) / 7),
  monthly: (ms) => {
    const d = new Date(ms);
    return d.getUTCFullYear() * 12 + d.getUTCMonth();
  },
};

/** Why each kept snapshot is kept ("newest", "hourly", ...); snapshots absent from the map may go. */
export function selectSnapshots(
  snapshots: readonly LtxFileInfo[],
  gfs: GfsPolicy,
): Map<LtxFileInfo, string[]> {
  const newestFirst = [...snapshots].sort((a, b) =>
    a.createdAt !== b.createdAt ? b.createdAt - a.createdAt : a.maxTXID > b.maxTXID ? -1 : 1,
  );
  const kept = new Map<LtxFileInfo, string[]>();
  const keep = (s: LtxFileInfo, why: string) => kept.set(s, [...(kept.get(s) ?? []), why]);
  // By TXID, not time: the newest state is what "keep the newest" protects.
  const byTxid = [...snapshots].sort((a, b) => (a.maxTXID > b.maxTXID ? -1 : a.maxTXID < b.maxTXID ? 1 : 0));
  for (const [i, s] of byTxid.slice(0, MIN_SNAPSHOTS_KEPT).entries())
    keep(s, i === 0 ? "newest" : "minimum count");
  for (const rule of ["hourly", "daily", "weekly", "monthly"] as const) {
    const want = gfs[rule];
    const seen = new Set<number>();
    for (const s of newestFirst) {
      if (seen.size >= want) break;
      const b = buckets[rule](s.createdAt);
      if (seen.has(b)) continue;
      seen.add(b);
      keep(s, rule);
    }
  }
  return kept;
}
