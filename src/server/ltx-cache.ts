/**
 * Restore points for the dashboard's timeline, listed through each database's replica client and cached,
 * so any number of open dashboards cost at most one listing per database per LTX_CACHE_TTL_MS.
 */
import { formatTXID } from "../ltx/filename.js";
import type { ReplicaClient } from "../replica/client.js";

/** How long a listing is reused (ms): the timeline moves slowly, and a LIST per level is 10 requests. */
export const LTX_CACHE_TTL_MS = 15_000;
/** Newest files per level sent to the page: enough to draw a timeline, bounded for a busy L0. */
export const LTX_MAX_FILES_PER_LEVEL = 300;
const LEVELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

export interface LtxLevelListing {
  level: number;
  count: number;
  files: Array<{ minTXID: string; maxTXID: string; size: number; createdAt: number }>;
}

export interface LtxListing {
  db: string;
  listedAt: number;
  levels: LtxLevelListing[];
  error?: string;
}

export class LtxCache {
  private readonly entries = new Map<string, { at: number; value: Promise<LtxListing> }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = LTX_CACHE_TTL_MS,
  ) {}

  get(db: string, client: ReplicaClient): Promise<LtxListing> {
    const hit = this.entries.get(db);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.list(db, client);
    this.entries.set(db, { at: this.now(), value });
    return value;
  }

  forget(db: string): void {
    this.entries.delete(db);
  }

  private async list(db: string, client: ReplicaClient): Promise<LtxListing> {
    const listedAt = this.now();
    try {
      const levels: LtxLevelListing[] = [];
      for (const level of LEVELS) {
        const files = await client.list(level);
        if (files.length === 0) continue;
        levels.push({
          level,
          count: files.length,
          files: files.slice(-LTX_MAX_FILES_PER_LEVEL).map((f) => ({
            minTXID: formatTXID(f.minTXID),
            maxTXID: formatTXID(f.maxTXID),
            size: f.size,
            createdAt: f.createdAt,
          })),
        });
      }
      return { db, listedAt, levels };
    } catch (e) {
      // A failed listing is not cached for long: the next request after a short pause tries again.
      this.entries.set(db, {
        at: listedAt - this.ttlMs + 2_000,
        value: Promise.resolve({ db, listedAt, levels: [] }),
      });
      return { db, listedAt, levels: [], error: e instanceof Error ? e.message : String(e) };
    }
  }
}
