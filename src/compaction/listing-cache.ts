/**
 * Per-level listings kept in memory, so an idle database costs no LIST per tick. The cache is updated,
 * not invalidated, by the maintainer's own writes and deletes, and by hints from the uploader; levels are
 * re-listed when asked (a refresh, a suspected hole) and a hint that arrives during a LIST is re-applied
 * afterwards so the LIST cannot hide it.
 */
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { SNAPSHOT_LEVEL } from "../replica/client.js";
import { cloneLevels, fileKey, insertSorted, type Levels } from "./levels.js";

export class ListingCache {
  private readonly levels: Levels = new Map();
  private readonly inFlight = new Map<number, LtxFileInfo[]>();
  /** When every level was last listed (0 = never). */
  refreshedAt = 0;

  constructor(
    private readonly client: ReplicaClient,
    private readonly now: () => number,
  ) {}

  async list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]> {
    const hints: LtxFileInfo[] = [];
    this.inFlight.set(level, hints);
    try {
      const files = await this.client.list(level, { signal });
      for (const h of hints) insertSorted(files, h);
      this.levels.set(level, files);
      return files;
    } finally {
      this.inFlight.delete(level);
    }
  }

  async refreshAll(signal?: AbortSignal): Promise<void> {
    for (let level = 0; level <= SNAPSHOT_LEVEL; level++) await this.list(level, signal);
    this.refreshedAt = this.now();
  }

  /** Lists any level never listed. */
  async ensureAll(signal?: AbortSignal): Promise<void> {
    if (this.refreshedAt === 0) return this.refreshAll(signal);
    for (let level = 0; level <= SNAPSHOT_LEVEL; level++)
      if (!this.levels.has(level)) await this.list(level, signal);
  }

  /** A file now known to exist (our upload, or the uploader's hint). */
  add(f: LtxFileInfo): void {
    this.inFlight.get(f.level)?.push(f);
    const files = this.levels.get(f.level);
    if (files) insertSorted(files, f);
  }

  remove(files: readonly LtxFileInfo[]): void {
    const keys = new Set(files.map(fileKey));
    for (const [level, list] of this.levels)
      this.levels.set(
        level,
        list.filter((f) => !keys.has(fileKey(f))),
      );
  }

  /** Forget everything: the next use re-lists (after an error that suggests the cache is wrong). */
  invalidate(): void {
    this.levels.clear();
    this.refreshedAt = 0;
  }

  snapshot(): Levels {
    return cloneLevels(this.levels);
  }
}
