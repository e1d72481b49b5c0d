/**
 * The 32-byte WAL header and the 24-byte frame header (sqlite.org/fileformat2.html, "The Write-Ahead Log").
 * Every field is a big-endian u32 whatever the machine; only the checksum's *input* words follow the magic.
 */

import { WalshipError } from "../errors.js";
import { walChecksum } from "./checksum.js";

export const WAL_HEADER_SIZE = 32;
export const WAL_FRAME_HEADER_SIZE = 24;
/** Magic with the low bit clear: checksum words are little-endian (what x86 and ARM SQLite write). */
export const WAL_MAGIC_LE = 0x377f0682;
/** Magic with the low bit set: checksum words are big-endian. */
export const WAL_MAGIC_BE = 0x377f0683;
/** The only WAL format version SQLite has ever written. */
export const WAL_FORMAT_VERSION = 3007000;

export interface WalHeader {
  magic: number;
  /** True when the magic is 0x377f0683: the checksum reads big-endian words. */
  bigEndianChecksums: boolean;
  version: number;
  pageSize: number;
  checkpointSeq: number;
  salt1: number;
  salt2: number;
  checksum1: number;
  checksum2: number;
}

export interface WalFrameHeader {
  pgno: number;
  /** Database size in pages after this commit; 0 for every frame but a transaction's last. */
  commit: number;
  salt1: number;
  salt2: number;
  checksum1: number;
  checksum2: number;
}

/** Bytes one frame occupies in the file. */
export function walFrameSize(pageSize: number): number {
  return WAL_FRAME_HEADER_SIZE + pageSize;
}

function invalid(field: string, message: string, offset: number): WalshipError {
  return new WalshipError("wal_invalid", `invalid WAL header: ${field} ${message}`, {
    op: "wal.parseHeader",
    context: { field, offset },
    hint: "the -wal file is not a SQLite WAL or is damaged; walship will not ship it",
  });
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Parse and validate a WAL header. Throws `wal_invalid` naming the first bad field (context.field). */
export function parseWalHeader(buf: Uint8Array): WalHeader {
  if (buf.length < WAL_HEADER_SIZE) {
    throw invalid("length", `is ${buf.length} bytes, need ${WAL_HEADER_SIZE}`, 0);
  }
  const dv = view(buf);
  const magic = dv.getUint32(0);
  if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) {
    throw invalid("magic", `0x${magic.toString(16)} is neither 0x377f0682 nor 0x377f0683`, 0);
  }
  const version = dv.getUint32(4);
  if (version !== WAL_FORMAT_VERSION) {
    throw invalid("version", `${version} is not ${WAL_FORMAT_VERSION}`, 4);
  }
  const pageSize = dv.getUint32(8);
  // 65536 is stored literally in the WAL (unlike the database header's 1), so a plain range check suffices.
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw invalid("pageSize", `${pageSize} is not a power of two between 512 and 65536`, 8);
  }
  const bigEndianChecksums = (magic & 1) === 1;
  const header: WalHeader = {
    magic,
    bigEndianChecksums,
    version,
    pageSize,
    checkpointSeq: dv.getUint32(12),
    salt1: dv.getUint32(16),
    salt2: dv.getUint32(20),
    checksum1: dv.getUint32(24),
    checksum2: dv.getUint32(28),
  };
  const [c1, c2] = walChecksum(buf, 0, 24, bigEndianChecksums);
  if (c1 !== header.checksum1 || c2 !== header.checksum2) {
    throw invalid(
      "checksum",
      `mismatch: stored ${hex(header.checksum1)}/${hex(header.checksum2)}, computed ${hex(c1)}/${hex(c2)}`,
      24,
    );
  }
  return header;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

export interface WalHeaderFields {
  bigEndianChecksums: boolean;
  pageSize: number;
  checkpointSeq: number;
  salt1: number;
  salt2: number;
  /** Defaults to 3007000; settable so tests can build a header with a valid checksum but a bad version. */
  version?: number;
}

/**
 * Encode a header with the magic derived from `bigEndianChecksums` and a correct checksum. Does not validate
 * the other fields, so tests can produce headers that fail `parseWalHeader` on exactly one field.
 */
export function encodeWalHeader(fields: WalHeaderFields): Uint8Array {
  const buf = new Uint8Array(WAL_HEADER_SIZE);
  const dv = view(buf);
  dv.setUint32(0, fields.bigEndianChecksums ? WAL_MAGIC_BE : WAL_MAGIC_LE);
  dv.setUint32(4, fields.version ?? WAL_FORMAT_VERSION);
  dv.setUint32(8, fields.pageSize);
  dv.setUint32(12, fields.checkpointSeq);
  dv.setUint32(16, fields.salt1);
  dv.setUint32(20, fields.salt2);
  const [c1, c2] = walChecksum(buf, 0, 24, fields.bigEndianChecksums);
  dv.setUint32(24, c1);
  dv.setUint32(28, c2);
  return buf;
}

/** Decode the 24-byte frame header at `offset` in `buf`. No validation: that needs the running checksum. */
export function parseWalFrameHeader(buf: Uint8Array, offset = 0): WalFrameHeader {
  const dv = view(buf);
  return {
    pgno: dv.getUint32(offset),
    commit: dv.getUint32(offset + 4),
    salt1: dv.getUint32(offset + 8),
    salt2: dv.getUint32(offset + 12),
    checksum1: dv.getUint32(offset + 16),
    checksum2: dv.getUint32(offset + 20),
  };
}

/** Encode a frame header into `buf` at `offset` (tests build and re-sign WALs with this). */
export function encodeWalFrameHeader(buf: Uint8Array, offset: number, frame: WalFrameHeader): void {
  const dv = view(buf);
  dv.setUint32(offset, frame.pgno);
  dv.setUint32(offset + 4, frame.commit);
  dv.setUint32(offset + 8, frame.salt1);
  dv.setUint32(offset + 12, frame.salt2);
  dv.setUint32(offset + 16, frame.checksum1);
  dv.setUint32(offset + 20, frame.checksum2);
}
