/**
 * K-way merge of a contiguous chain of LTX files into one ascending page stream, with the semantics of
 * superfly/ltx's Compactor (§6.5): newest input wins a pgno, pages past the last input's Commit are
 * dropped, header values come from the first/last input. Compaction and database apply/restore both run
 * on it. Memory stays bounded: one decoded page per input, plus each input's read buffer.
 *
 * Like Go, only the final Commit truncates: if a middle file shrinks the database and a later one grows it
 * again without rewriting the pages in between, the older copies of those pages survive the merge where
 * applying file by file would leave zeros. SQLite writes every page of a grown database, so chains from
 * real WALs never hit this.
 */
import type { ByteSource } from "./byte-reader.js";
import { type DecodedPage, LtxDecoder, type LtxDecodeSummary } from "./decoder.js";
import { formatTXID } from "./filename.js";
import { isSnapshot, type LtxHeader, lastSnapshotPgno, lockPgno } from "./header.js";
import { ltxError } from "./ltx-error.js";

export type LtxSource = LtxDecoder | ByteSource;

export interface MergeOptions {
  /** Skip the TXID continuity check (Go's AllowNonContiguousTXIDs). */
  allowNonContiguous?: boolean;
}

export interface MergedHeader {
  pageSize: number;
  /** From the last input, even if an earlier one was larger (§13 item 11). */
  commit: number;
  minTXID: bigint;
  maxTXID: bigint;
  /** From the last input. */
  timestamp: bigint;
  /** From the first input. */
  preApplyChecksum: bigint;
  /** The first input is a snapshot, so the merged pages are a whole database. */
  snapshot: boolean;
  inputs: LtxHeader[];
}

export interface MergedPage {
  pgno: number;
  data: Uint8Array;
}

export interface PageMerge {
  readonly header: MergedHeader;
  /** Ascending pages; single use. Inputs are fully verified by the time it completes. */
  pages(): AsyncGenerator<MergedPage, void, undefined>;
  /** Each input's verified summary; throws until pages() has completed. */
  summaries(): LtxDecodeSummary[];
  /** The last input's post-apply checksum; throws until pages() has completed. */
  postApplyChecksum(): bigint;
  /** Releases every input's source; needed only when pages() is never run to completion. */
  close(): Promise<void>;
}

export function toDecoder(s: LtxSource): LtxDecoder {
  return s instanceof LtxDecoder ? s : new LtxDecoder(s);
}

/** Go's IsContiguous: overlap is fine, but no TXID may be skipped and each file must add one. */
export function isContiguous(prevMax: bigint, min: bigint, max: bigint): boolean {
  return min <= prevMax + 1n && max > prevMax;
}

function range(h: LtxHeader): string {
  return `(${formatTXID(h.minTXID)},${formatTXID(h.maxTXID)})`;
}

function checkChain(headers: LtxHeader[], opts: MergeOptions): void {
  for (let i = 1; i < headers.length; i++) {
    const prev = headers[i - 1];
    const h = headers[i];
    if (h.pageSize !== headers[0].pageSize) {
      throw ltxError(
        "ltx_invalid",
        `input files have different page sizes: ${range(headers[0])} has ${headers[0].pageSize}, ${range(h)} has ${h.pageSize}`,
        { field: "pageSize", minTXID: h.minTXID, maxTXID: h.maxTXID },
      );
    }
    if (!opts.allowNonContiguous && !isContiguous(prev.maxTXID, h.minTXID, h.maxTXID)) {
      throw ltxError(
        "replica_gap",
        `non-contiguous transaction ids in input files: ${range(prev)} -> ${range(h)}`,
        { minTXID: prev.maxTXID, maxTXID: h.minTXID },
      );
    }
  }
}

interface Head {
  input: number;
  page: DecodedPage;
}

/** Min-heap on (pgno ascending, input descending) so that the newest copy of a page surfaces first. */
class HeadHeap {
  private readonly a: Head[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): Head {
    return this.a[0];
  }

  push(h: Head): void {
    const a = this.a;
    a.push(h);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): Head {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Head, y: Head): boolean {
  return x.page.pgno < y.page.pgno || (x.page.pgno === y.page.pgno && x.input > y.input);
}

/** Reads every input's header, checks the chain, and returns the merge ready to stream. */
export async function mergePages(inputs: readonly LtxSource[], opts: MergeOptions = {}): Promise<PageMerge> {
  if (inputs.length === 0) throw ltxError("ltx_invalid", "at least one LTX input is required");
  const decoders = inputs.map(toDecoder);
  const closeAll = async (): Promise<void> => {
    for (const d of decoders) await d.close().catch(() => undefined);
  };
  const headers: LtxHeader[] = [];
  try {
    for (const d of decoders) headers.push(await d.readHeader());
    checkChain(headers, opts);
  } catch (e) {
    await closeAll();
    throw e;
  }
  const first = headers[0];
  const last = headers[headers.length - 1];
  const header: MergedHeader = {
    pageSize: first.pageSize,
    commit: last.commit,
    minTXID: first.minTXID,
    maxTXID: last.maxTXID,
    timestamp: last.timestamp,
    preApplyChecksum: first.preApplyChecksum,
    snapshot: isSnapshot(first),
    inputs: headers,
  };
  const summaries: (LtxDecodeSummary | undefined)[] = new Array(decoders.length);
  let started = false;
  let complete = false;

  async function advance(heap: HeadHeap, i: number): Promise<void> {
    const page = await decoders[i].nextPage();
    if (page) heap.push({ input: i, page });
    else summaries[i] = await decoders[i].finish();
  }

  async function* pages(): AsyncGenerator<MergedPage, void, undefined> {
    if (started) throw ltxError("ltx_invalid", "merged page stream can only be consumed once");
    started = true;
    try {
      const heap = new HeadHeap();
      for (let i = 0; i < decoders.length; i++) await advance(heap, i);
      const lock = lockPgno(header.pageSize);
      let prev = 0;
      while (heap.size > 0 && heap.peek().page.pgno <= header.commit) {
        const top = heap.pop();
        const pgno = top.page.pgno;
        const stale: number[] = [];
        while (heap.size > 0 && heap.peek().page.pgno === pgno) stale.push(heap.pop().input);
        if (header.snapshot) {
          const expected = prev + 1 === lock ? prev + 2 : prev + 1;
          if (pgno !== expected) throw missingPage(header, expected);
        }
        prev = pgno;
        yield { pgno, data: top.page.data };
        await advance(heap, top.input);
        for (const i of stale) await advance(heap, i);
      }
      // Everything left is past the final Commit; finish() still decodes it so every checksum is verified.
      for (let i = 0; i < decoders.length; i++) if (!summaries[i]) summaries[i] = await decoders[i].finish();
      if (header.snapshot && header.commit > 0 && prev !== lastSnapshotPgno(header.commit, header.pageSize)) {
        throw missingPage(header, prev + 1 === lock ? prev + 2 : prev + 1);
      }
      complete = true;
    } finally {
      // Early exits (errors, a consumer breaking off) must not leave file streams open.
      if (!complete) await closeAll();
    }
  }

  function done(): LtxDecodeSummary[] {
    if (!complete) throw ltxError("ltx_invalid", "merged page stream has not been fully consumed");
    return summaries as LtxDecodeSummary[];
  }

  return {
    header,
    pages,
    summaries: done,
    postApplyChecksum: () => done()[decoders.length - 1].trailer.postApplyChecksum,
    close: async () => {
      if (!complete) await closeAll();
    },
  };
}

function missingPage(h: MergedHeader, pgno: number): Error {
  return ltxError(
    "ltx_invalid",
    `merged snapshot (${formatTXID(h.minTXID)},${formatTXID(h.maxTXID)}) has no page ${pgno} although commit is ${h.commit}`,
    { field: "commit", pgno, minTXID: h.minTXID, maxTXID: h.maxTXID },
  );
}
