/**
 * One page frame (spec §3): the 6-byte page header, then either a u32 size + raw LZ4 block (flag 0x0001,
 * current) or a complete LZ4 frame (flag 0, legacy v0.5.0/v0.5.1). Shared by the streaming decoder, the
 * encoder and random-access page reads so that all three apply the same rules.
 */
import { WalshipError } from "../errors.js";
import { ltxError } from "./ltx-error.js";
import { compressBlock, compressBound, decompressBlock, decompressFrame, encodeLegacyFrame } from "./lz4.js";

export const PAGE_HEADER_SIZE = 6;
/** pgno(4) + flags(2) + compressedSize(4) ahead of the LZ4 block. */
export const BLOCK_FRAME_HEADER_SIZE = 10;
export const PAGE_FLAG_SIZE = 0x0001;
export const PAGE_FLAG_MASK = PAGE_FLAG_SIZE;

export type PageEncoding = "lz4-block" | "lz4-frame";

const LZ4_FRAME_MAGIC = 0x184d2204;

/** Go's CompressBlockBound: no valid block that decompresses to n bytes can be longer (§9). */
export function maxBlockSize(pageSize: number): number {
  return pageSize + Math.floor(pageSize / 255) + 16;
}

export function readU32BE(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

export function writeU32BE(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

function readU32LE(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

/** Result of scanning a legacy LZ4 frame whose bytes may not all have arrived yet. */
export type FrameScan = { done: true; length: number } | { done: false; need: number };

/**
 * Finds the length of the LZ4 frame starting at b[start] using only b[start, end). Legacy frames carry
 * no outer length, so a streaming reader must walk block headers to know how much to read. Lengths are
 * capped near 2×pageSize because a frame that decompresses to one page can never be larger; this keeps
 * a corrupt block size from making the reader buffer gigabytes. `fileOffset` is only for error context.
 */
export function scanLz4Frame(
  b: Uint8Array,
  start: number,
  end: number,
  pageSize: number,
  fileOffset: number,
): FrameScan {
  const limit = 2 * pageSize + 64;
  if (end - start < 7) return { done: false, need: 7 };
  if (readU32LE(b, start) !== LZ4_FRAME_MAGIC) {
    throw ltxError("lz4", "legacy page payload is not an LZ4 frame (bad magic)", {
      field: "pageData",
      offset: fileOffset,
    });
  }
  const flg = b[start + 4];
  const bd = b[start + 5];
  const hasContentSize = (flg & 0x08) !== 0;
  const hasDictId = (flg & 0x01) !== 0;
  const blockChecksum = (flg & 0x10) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  // BD bits 6..4 encode the maximum block size: 4 → 64 KiB … 7 → 4 MiB.
  const maxBlock = 1 << (8 + 2 * ((bd >>> 4) & 0x7));
  let pos = 7 + (hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0);
  for (;;) {
    if (pos + 4 > end - start) return { done: false, need: pos + 4 };
    const raw = readU32LE(b, start + pos);
    pos += 4;
    if (raw === 0) {
      if (contentChecksum) pos += 4;
      if (pos > limit) break;
      return pos <= end - start ? { done: true, length: pos } : { done: false, need: pos };
    }
    const size = raw & 0x7fffffff;
    if (size > maxBlock) break;
    pos += size + (blockChecksum ? 4 : 0);
    if (pos > limit) break;
  }
  throw ltxError("lz4", `legacy LZ4 frame is larger than any frame holding a ${pageSize}-byte page`, {
    field: "pageData",
    offset: fileOffset,
  });
}

/** Adds file position and page number to LZ4 errors, which only know about their own buffers. */
function withContext(e: unknown, pgno: number, offset: number): never {
  if (e instanceof WalshipError) {
    throw ltxError("lz4", `page ${pgno}: ${e.message}`, { ...e.context, pgno, field: "pageData", offset }, e);
  }
  throw ltxError("lz4", `page ${pgno}: ${e instanceof Error ? e.message : String(e)}`, {
    pgno,
    field: "pageData",
    offset,
  });
}

/** Decompresses a raw block into dst and insists on exactly dst.length bytes (§6.4: Go does not). */
export function inflateBlock(block: Uint8Array, dst: Uint8Array, pgno: number, offset: number): void {
  let n: number;
  try {
    n = decompressBlock(block, dst);
  } catch (e) {
    withContext(e, pgno, offset);
  }
  if (n !== dst.length) {
    throw ltxError("lz4", `page ${pgno}: LZ4 block decompressed to ${n} bytes, page size is ${dst.length}`, {
      pgno,
      field: "pageData",
      offset,
    });
  }
}

/** Decompresses one complete legacy LZ4 frame into dst; the frame must be consumed exactly. */
export function inflateFrame(frame: Uint8Array, dst: Uint8Array, pgno: number, offset: number): void {
  let r: { consumed: number; written: number };
  try {
    r = decompressFrame(frame, dst);
  } catch (e) {
    withContext(e, pgno, offset);
  }
  if (r.written !== dst.length || r.consumed !== frame.length) {
    throw ltxError(
      "lz4",
      `page ${pgno}: LZ4 frame gave ${r.written} bytes from ${r.consumed} of ${frame.length} bytes, page size is ${dst.length}`,
      { pgno, field: "pageData", offset },
    );
  }
}

/** A compressor with one reusable scratch buffer, so encoding allocates only the returned frame. */
export class FrameWriter {
  private readonly scratch: Uint8Array;

  constructor(
    readonly pageSize: number,
    readonly legacy: boolean,
  ) {
    this.scratch = legacy ? new Uint8Array(0) : new Uint8Array(compressBound(pageSize));
  }

  encode(pgno: number, data: Uint8Array): Uint8Array {
    if (this.legacy) {
      const payload = encodeLegacyFrame(data);
      const out = new Uint8Array(PAGE_HEADER_SIZE + payload.length);
      writeU32BE(out, 0, pgno);
      out.set(payload, PAGE_HEADER_SIZE);
      return out;
    }
    const n = compressBlock(data, this.scratch);
    const out = new Uint8Array(BLOCK_FRAME_HEADER_SIZE + n);
    writeU32BE(out, 0, pgno);
    out[5] = PAGE_FLAG_SIZE;
    writeU32BE(out, 6, n);
    out.set(this.scratch.subarray(0, n), BLOCK_FRAME_HEADER_SIZE);
    return out;
  }
}

export interface DecodedFrame {
  pgno: number;
  data: Uint8Array;
  encoding: PageEncoding;
  /** LZ4 block length for block frames; undefined for legacy frames. */
  compressedSize: number | undefined;
}

/**
 * Decodes one standalone frame (random access, §4.2): `bytes` must be exactly the frame, as the page
 * index's (offset, size) describes it. `offset` is the frame's file offset, for error context only.
 */
export function decodePageFrame(bytes: Uint8Array, pageSize: number, offset = 0): DecodedFrame {
  if (bytes.length < PAGE_HEADER_SIZE) {
    throw ltxError("ltx_truncated", `page frame needs at least 6 bytes, got ${bytes.length}`, { offset });
  }
  const pgno = readU32BE(bytes, 0);
  const flags = (bytes[4] << 8) | bytes[5];
  if (pgno === 0) throw ltxError("ltx_invalid", "page number required", { field: "pgno", offset });
  if ((flags & ~PAGE_FLAG_MASK) !== 0) {
    throw ltxError("ltx_invalid", `invalid page header flags: 0x${flags.toString(16).padStart(4, "0")}`, {
      field: "pageFlags",
      offset: offset + 4,
    });
  }
  const data = new Uint8Array(pageSize);
  if (flags & PAGE_FLAG_SIZE) {
    if (bytes.length < BLOCK_FRAME_HEADER_SIZE) {
      throw ltxError("ltx_truncated", "page frame ends inside its size field", { offset });
    }
    const size = readU32BE(bytes, 6);
    if (size !== bytes.length - BLOCK_FRAME_HEADER_SIZE) {
      throw ltxError(
        "ltx_invalid",
        `page ${pgno}: compressed size ${size} does not match frame size ${bytes.length}`,
        { field: "compressedSize", offset: offset + 6, pgno },
      );
    }
    inflateBlock(bytes.subarray(BLOCK_FRAME_HEADER_SIZE), data, pgno, offset + BLOCK_FRAME_HEADER_SIZE);
    return { pgno, data, encoding: "lz4-block", compressedSize: size };
  }
  inflateFrame(bytes.subarray(PAGE_HEADER_SIZE), data, pgno, offset + PAGE_HEADER_SIZE);
  return { pgno, data, encoding: "lz4-frame", compressedSize: undefined };
}
