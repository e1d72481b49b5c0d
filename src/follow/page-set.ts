/**
 * The pages one apply writes, wherever they are staged: merged LTX pages packed into a scratch file, or
 * the pages of a freshly restored image that differ from the local database. Only the page numbers live
 * in memory; the bytes stay on disk until the apply copies them under the lock.
 */
import type { FileHandle } from "node:fs/promises";

export interface PageSet {
  pageSize: number;
  /** Database size in pages after the apply. */
  commit: number;
  /** Ascending page numbers, all <= commit, never the lock page. */
  pgnos: number[];
  /** Byte offset of pgnos[i] in `source`. */
  offsets: number[];
  source: FileHandle;
}

export interface PageRun {
  /** Index into pgnos/offsets of the run's first page. */
  start: number;
  count: number;
}

/** Splits a set into runs that are contiguous both in the database and in the source, up to maxPages. */
export function* pageRuns(set: PageSet, maxPages: number): Generator<PageRun> {
  const { pgnos, offsets, pageSize } = set;
  let start = 0;
  while (start < pgnos.length) {
    let n = 1;
    while (
      start + n < pgnos.length &&
      n < maxPages &&
      pgnos[start + n] === pgnos[start]! + n &&
      offsets[start + n] === offsets[start]! + n * pageSize
    ) {
      n++;
    }
    yield { start, count: n };
    start += n;
  }
}
