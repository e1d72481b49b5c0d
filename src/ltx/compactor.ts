/**
 * Streaming compaction (§6.5): merges a contiguous chain of LTX files into one, encoding pages as the
 * merge produces them. Output is written in coalesced chunks through the caller's `write`; because inputs
 * are only verified at their ends, the caller must discard the output if compactLtx throws.
 *
 * Deliberate difference from Go: a NoChecksum output always gets zero pre/post-apply checksums. Go copies
 * the inputs' values and then fails to encode (litestream#1427), which is why Litestream cannot restore
 * checksum-tracked files; here such inputs compact into a valid Litestream-style file.
 */
import { LtxEncoder } from "./encoder.js";
import { formatTXID } from "./filename.js";
import { HEADER_FLAG_NO_CHECKSUM, isChecksumTracked, type LtxHeader } from "./header.js";
import { ltxError } from "./ltx-error.js";
import { type LtxSource, type MergeOptions, mergePages, type PageMerge } from "./merge.js";
import type { PageIndexEntry } from "./page-index.js";

export interface CompactOptions extends MergeOptions {
  /** Output header flags; defaults to NoChecksum, what Litestream writes and can restore. */
  flags?: number;
  /** Output timestamp (ms); defaults to the last input's, as Go does. */
  timestamp?: bigint;
  legacyFrames?: boolean;
  /** Bytes gathered before each write() call; frames are never split. */
  writeChunkSize?: number;
}

export interface CompactResult {
  header: LtxHeader;
  postApplyChecksum: bigint;
  fileChecksum: bigint;
  size: number;
  index: PageIndexEntry[];
}

const DEFAULT_CHUNK = 256 * 1024;

/** Gathers small frames into larger writes; a sink that is slow per call (S3 part, fs write) likes that. */
class ChunkSink {
  private parts: Uint8Array[] = [];
  private pending = 0;

  constructor(
    private readonly write: (chunk: Uint8Array) => Promise<void>,
    private readonly chunkSize: number,
  ) {}

  async push(b: Uint8Array): Promise<void> {
    this.parts.push(b);
    this.pending += b.length;
    if (this.pending >= this.chunkSize) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending === 0) return;
    const parts = this.parts;
    let out: Uint8Array;
    if (parts.length === 1) out = parts[0];
    else {
      out = new Uint8Array(this.pending);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
    }
    this.parts = [];
    this.pending = 0;
    await this.write(out);
  }
}

export async function compactLtx(
  inputs: readonly LtxSource[],
  write: (chunk: Uint8Array) => Promise<void>,
  opts: CompactOptions = {},
): Promise<CompactResult> {
  const merge = await mergePages(inputs, opts);
  try {
    return await compactMerged(merge, write, opts);
  } finally {
    await merge.close();
  }
}

async function compactMerged(
  merge: PageMerge,
  write: (chunk: Uint8Array) => Promise<void>,
  opts: CompactOptions,
): Promise<CompactResult> {
  const m = merge.header;
  const flags = opts.flags ?? HEADER_FLAG_NO_CHECKSUM;
  const tracked = (flags & HEADER_FLAG_NO_CHECKSUM) === 0;
  if (tracked) {
    for (const h of m.inputs) {
      if (!isChecksumTracked(h)) {
        throw ltxError(
          "ltx_invalid",
          `cannot write a checksum-tracked file: input (${formatTXID(h.minTXID)},${formatTXID(h.maxTXID)}) has the NoChecksum flag`,
          { field: "flags", minTXID: h.minTXID, maxTXID: h.maxTXID },
        );
      }
    }
  }
  const header: LtxHeader = {
    flags,
    pageSize: m.pageSize,
    commit: m.commit,
    minTXID: m.minTXID,
    maxTXID: m.maxTXID,
    timestamp: opts.timestamp ?? m.timestamp,
    preApplyChecksum: tracked && !m.snapshot ? m.preApplyChecksum : 0n,
    walOffset: 0n,
    walSize: 0n,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
  };
  const enc = new LtxEncoder(header, { legacyFrames: opts.legacyFrames });
  const sink = new ChunkSink(write, opts.writeChunkSize ?? DEFAULT_CHUNK);
  await sink.push(enc.header());
  for await (const p of merge.pages()) await sink.push(enc.encodePage(p.pgno, p.data));
  // A tracked snapshot's post-apply is recomputed by the encoder, which also checks it against the input's.
  const res = enc.finish(tracked ? merge.postApplyChecksum() : undefined);
  await sink.push(res.bytes);
  await sink.flush();
  return {
    header,
    postApplyChecksum: res.postApplyChecksum,
    fileChecksum: res.fileChecksum,
    size: res.size,
    index: res.index,
  };
}
