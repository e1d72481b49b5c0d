/**
 * The page index (spec §4.1): LEB128 triples (pgno, frame offset, frame size) in ascending pgno, a 0
 * terminator, then the u64 BE byte length of entries + terminator. Also random access to one page through
 * the index (§4.2), which is how a VFS or a partial restore reads a page without the whole file.
 */
import { type DecodedFrame, decodePageFrame } from "./frame.js";
import { HEADER_SIZE } from "./header.js";
import { ltxError } from "./ltx-error.js";
import { TRAILER_SIZE } from "./trailer.js";

export interface PageIndexEntry {
  pgno: number;
  /** File offset of the frame's 6-byte page header. */
  offset: number;
  /** Whole frame length: header, optional size field and payload. */
  size: number;
}

export const INDEX_SIZE_FIELD = 8;
/** Litestream's DefaultEstimatedPageIndexSize: one ranged read usually covers index and trailer. */
export const ESTIMATED_PAGE_INDEX_READ = 32 * 1024;
const END_MARKER_SIZE = 6;
const MAX_VARINT_BYTES = 10;

export function uvarintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes v at b[pos] and returns the position after it. Division keeps values above 2^31 exact. */
export function putUvarint(b: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    b[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[pos++] = v;
  return pos;
}

/**
 * Reads one varint at b[pos]; returns [value, next position] or null when b ends first. Values beyond
 * 2^53 are rejected: no LTX offset, size or pgno can reach that, so such a varint is corruption.
 */
export function readUvarint(
  b: Uint8Array,
  pos: number,
  end: number,
  fileOffset: number,
): [number, number] | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos + i >= end) return null;
    const byte = b[pos + i];
    value += (byte & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) break;
    if ((byte & 0x80) === 0) return [value, pos + i + 1];
    scale *= 128;
  }
  throw ltxError("ltx_invalid", "pageIndex: varint is too large", {
    field: "pageIndex",
    offset: fileOffset + pos,
  });
}

/** Entries, terminator and the u64 size field, i.e. everything between the end marker and the trailer. */
export function encodePageIndex(entries: readonly PageIndexEntry[]): Uint8Array {
  let n = 1;
  for (const e of entries) n += uvarintLength(e.pgno) + uvarintLength(e.offset) + uvarintLength(e.size);
  const out = new Uint8Array(n + INDEX_SIZE_FIELD);
  let pos = 0;
  for (const e of entries) {
    pos = putUvarint(out, pos, e.pgno);
    pos = putUvarint(out, pos, e.offset);
    pos = putUvarint(out, pos, e.size);
  }
  out[pos++] = 0;
  new DataView(out.buffer).setBigUint64(pos, BigInt(n));
  return out;
}

/**
 * Parses an index section as written by encodePageIndex. `baseOffset` is the section's file offset: frames
 * must lie between the header and the end marker just before it. Also checks what a reader can check
 * without the frames: ascending pgnos, non-overlapping frames, a size field equal to the parsed length.
 */
export function decodePageIndex(
  bytes: Uint8Array,
  baseOffset: number,
): { entries: PageIndexEntry[]; indexSize: number } {
  const entries: PageIndexEntry[] = [];
  const bodyEnd = bytes.length - INDEX_SIZE_FIELD;
  const limit = baseOffset - END_MARKER_SIZE;
  let pos = 0;
  let prevPgno = 0;
  let nextOffset = HEADER_SIZE;
  for (;;) {
    const p = readUvarint(bytes, pos, bodyEnd, baseOffset);
    if (!p) throw indexError("entries run past the index size field", baseOffset + pos);
    pos = p[1];
    if (p[0] === 0) break;
    const o = readUvarint(bytes, pos, bodyEnd, baseOffset);
    const s = o ? readUvarint(bytes, o[1], bodyEnd, baseOffset) : null;
    if (!o || !s) throw indexError("entries run past the index size field", baseOffset + pos);
    const e = { pgno: p[0], offset: o[0], size: s[0] };
    if (e.pgno <= prevPgno || e.pgno > 0xffffffff) {
      throw indexError(`page numbers not ascending (${prevPgno}, ${e.pgno})`, baseOffset + pos);
    }
    if (e.offset < nextOffset || e.size < END_MARKER_SIZE + 1 || e.offset + e.size > limit) {
      throw indexError(
        `entry for page ${e.pgno} has impossible frame (${e.offset}, ${e.size})`,
        baseOffset + pos,
      );
    }
    prevPgno = e.pgno;
    nextOffset = e.offset + e.size;
    entries.push(e);
    pos = s[1];
  }
  if (pos !== bodyEnd)
    throw indexError("terminator is not followed by the index size field", baseOffset + pos);
  const declared = new DataView(bytes.buffer, bytes.byteOffset + bodyEnd, INDEX_SIZE_FIELD).getBigUint64(0);
  if (declared !== BigInt(bodyEnd)) {
    throw indexError(`index size field is ${declared}, index is ${bodyEnd} bytes`, baseOffset + bodyEnd);
  }
  return { entries, indexSize: bodyEnd };
}

function indexError(message: string, offset: number): Error {
  return ltxError("ltx_invalid", `pageIndex: ${message}`, { field: "pageIndex", offset });
}

export type ReadRange = (offset: number, length: number) => Promise<Uint8Array>;

export interface PageIndex {
  entries: PageIndexEntry[];
  byPgno: Map<number, PageIndexEntry>;
  /** File offset of the first index byte (right after the 6-byte end marker). */
  indexOffset: number;
  indexSize: number;
  postApplyChecksum: bigint;
  fileChecksum: bigint;
}

async function readExactly(readRange: ReadRange, offset: number, length: number): Promise<Uint8Array> {
  const b = await readRange(offset, length);
  if (b.length !== length) {
    throw ltxError("ltx_truncated", `read of ${length} bytes at ${offset} returned ${b.length}`, { offset });
  }
  return b;
}

/**
 * Reads the index with one ranged read of the file's tail, plus a second one only when the index is
 * larger than the first read (as Litestream's FetchPageIndex does). The file checksum cannot be checked
 * this way; the sequential decoder is the verifying path.
 */
export async function readPageIndex(readRange: ReadRange, fileSize: number): Promise<PageIndex> {
  const minSize = HEADER_SIZE + END_MARKER_SIZE + 1 + INDEX_SIZE_FIELD + TRAILER_SIZE;
  if (fileSize < minSize) {
    throw ltxError(
      "ltx_truncated",
      `LTX file of ${fileSize} bytes is shorter than the ${minSize}-byte minimum`,
      {
        offset: fileSize,
      },
    );
  }
  const tailLen = Math.min(fileSize, ESTIMATED_PAGE_INDEX_READ);
  const tailStart = fileSize - tailLen;
  let tail = await readExactly(readRange, tailStart, tailLen);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.length);
  const sizeAt = tailLen - TRAILER_SIZE - INDEX_SIZE_FIELD;
  const declared = view.getBigUint64(sizeAt);
  const postApplyChecksum = view.getBigUint64(tailLen - TRAILER_SIZE);
  const fileChecksum = view.getBigUint64(tailLen - 8);
  const maxIndex = fileSize - minSize + 1;
  if (declared < 1n || declared > BigInt(maxIndex)) {
    throw indexError(`index size field ${declared} does not fit a ${fileSize}-byte file`, fileSize - 24);
  }
  const indexSize = Number(declared);
  const indexOffset = fileSize - TRAILER_SIZE - INDEX_SIZE_FIELD - indexSize;
  let sectionStart = indexOffset - tailStart;
  if (sectionStart < 0) {
    tail = await readExactly(readRange, indexOffset, indexSize + INDEX_SIZE_FIELD);
    sectionStart = 0;
  }
  const section = tail.subarray(sectionStart, sectionStart + indexSize + INDEX_SIZE_FIELD);
  const { entries } = decodePageIndex(section, indexOffset);
  const byPgno = new Map<number, PageIndexEntry>();
  for (const e of entries) byPgno.set(e.pgno, e);
  return { entries, byPgno, indexOffset, indexSize, postApplyChecksum, fileChecksum };
}

/** Fetches and decodes one frame named by an index entry; the frame must hold the entry's page. */
export async function readPage(
  readRange: ReadRange,
  entry: PageIndexEntry,
  pageSize: number,
): Promise<Uint8Array> {
  const bytes = await readExactly(readRange, entry.offset, entry.size);
  const f: DecodedFrame = decodePageFrame(bytes, pageSize, entry.offset);
  if (f.pgno !== entry.pgno) {
    throw ltxError(
      "ltx_invalid",
      `pageIndex: entry for page ${entry.pgno} points at a frame for page ${f.pgno}`,
      {
        field: "pageIndex",
        offset: entry.offset,
      },
    );
  }
  return f.data;
}
