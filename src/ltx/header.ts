/**
 * The 100-byte LTX header (spec §2) and its validation rules (spec §6.1).
 *
 * Every 64-bit field is a bigint so that TXIDs, checksums and the NodeID keep all 64 bits; the i64 fields
 * (timestamp, WAL offset, WAL size) are decoded as signed so that negative values can be reported rather
 * than silently read as huge unsigned numbers.
 */
import { CHECKSUM_FLAG } from "./crc64.js";
import { ltxError } from "./ltx-error.js";

export interface LtxHeader {
  flags: number;
  pageSize: number;
  /** Database size in pages after the file is applied; 0 marks a deletion file. */
  commit: number;
  minTXID: bigint;
  maxTXID: bigint;
  /** Milliseconds since the Unix epoch (signed). */
  timestamp: bigint;
  preApplyChecksum: bigint;
  walOffset: bigint;
  walSize: bigint;
  walSalt1: number;
  walSalt2: number;
  nodeID: bigint;
}

export const HEADER_SIZE = 100;
/** ASCII "LTX1"; every format version uses it, so it identifies the family, not the version (§1). */
export const LTX_MAGIC = new Uint8Array([0x4c, 0x54, 0x58, 0x31]);

/** Format v1 only (whole page block was one LZ4 frame); invalid in v2/v3 (§2.1). */
export const HEADER_FLAG_COMPRESS_LZ4 = 0x1;
/** Database-checksum tracking off; Litestream sets it on every file it writes (§2.1). */
export const HEADER_FLAG_NO_CHECKSUM = 0x2;
export const HEADER_FLAG_MASK = HEADER_FLAG_NO_CHECKSUM;

/** SQLite's PENDING_BYTE (1 GiB): the page containing it is the lock page and is never stored (§3.4). */
export const PENDING_BYTE = 0x40000000;
export const MIN_PAGE_SIZE = 512;
export const MAX_PAGE_SIZE = 65536;

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** Byte offsets of each header field, used for error context (§2). */
export const HEADER_OFFSETS = {
  magic: 0,
  flags: 4,
  pageSize: 8,
  commit: 12,
  minTXID: 16,
  maxTXID: 24,
  timestamp: 32,
  preApplyChecksum: 40,
  walOffset: 48,
  walSize: 56,
  walSalt1: 64,
  walSalt2: 68,
  nodeID: 72,
} as const;

type HeaderField = keyof typeof HEADER_OFFSETS;

function headerError(code: "ltx_invalid" | "ltx_unsupported", field: HeaderField, message: string): never {
  throw ltxError(code, `invalid LTX header: ${field}: ${message}`, { field, offset: HEADER_OFFSETS[field] });
}

export function lockPgno(pageSize: number): number {
  return Math.floor(PENDING_BYTE / pageSize) + 1;
}

/** Last pgno a complete snapshot holds: Commit, unless Commit is itself the never-stored lock page. */
export function lastSnapshotPgno(commit: number, pageSize: number): number {
  return commit === lockPgno(pageSize) ? commit - 1 : commit;
}

/** Only MinTXID == 1 makes a file a snapshot; Litestream's full L0 files with MinTXID > 1 are not (§3.3). */
export function isSnapshot(h: Pick<LtxHeader, "minTXID">): boolean {
  return h.minTXID === 1n;
}

export function isChecksumTracked(h: Pick<LtxHeader, "flags">): boolean {
  return (h.flags & HEADER_FLAG_NO_CHECKSUM) === 0;
}

export function isValidPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PAGE_SIZE && n <= MAX_PAGE_SIZE && (n & (n - 1)) === 0;
}

function checkU32(field: HeaderField, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) headerError("ltx_invalid", field, `${v} is not a u32`);
}

function checkU64(field: HeaderField, v: bigint): void {
  if (v < 0n || v > U64_MAX) headerError("ltx_invalid", field, `${v} is not a u64`);
}

function checkI64(field: HeaderField, v: bigint): void {
  if (v < I64_MIN || v > I64_MAX) headerError("ltx_invalid", field, `${v} is not an i64`);
}

/** Spec §6.1, in the Go order, plus range checks that Go gets for free from its integer types. */
export function validateHeader(h: LtxHeader): void {
  checkU32("flags", h.flags);
  if (h.flags & HEADER_FLAG_COMPRESS_LZ4) {
    headerError(
      "ltx_unsupported",
      "flags",
      "LTX format v1 (ltx <= v0.3) is not supported: header flag 0x00000001 (CompressLZ4) is set",
    );
  }
  if ((h.flags & ~HEADER_FLAG_MASK) !== 0) {
    headerError("ltx_invalid", "flags", `unknown bits in 0x${hex32(h.flags)} (allowed: 0x00000002)`);
  }
  if (!isValidPageSize(h.pageSize)) {
    headerError("ltx_invalid", "pageSize", `${h.pageSize} is not a power of two in 512..65536`);
  }
  checkU32("commit", h.commit);
  checkU64("minTXID", h.minTXID);
  checkU64("maxTXID", h.maxTXID);
  if (h.minTXID === 0n) headerError("ltx_invalid", "minTXID", "minimum transaction id required");
  if (h.maxTXID === 0n) headerError("ltx_invalid", "maxTXID", "maximum transaction id required");
  if (h.minTXID > h.maxTXID) {
    headerError("ltx_invalid", "maxTXID", `transaction ids out of order: (${h.minTXID},${h.maxTXID})`);
  }
  checkI64("timestamp", h.timestamp);
  checkI64("walOffset", h.walOffset);
  checkI64("walSize", h.walSize);
  if (h.walOffset < 0n) headerError("ltx_invalid", "walOffset", "wal offset cannot be negative");
  if (h.walSize < 0n) headerError("ltx_invalid", "walSize", "wal size cannot be negative");
  checkU32("walSalt1", h.walSalt1);
  checkU32("walSalt2", h.walSalt2);
  if ((h.walSalt1 !== 0 || h.walSalt2 !== 0) && h.walOffset === 0n) {
    headerError("ltx_invalid", "walOffset", "wal offset required if salt exists");
  }
  if (h.walOffset === 0n && h.walSize !== 0n) {
    headerError("ltx_invalid", "walOffset", "wal offset required if wal size exists");
  }
  checkU64("preApplyChecksum", h.preApplyChecksum);
  if (isSnapshot(h)) {
    if (h.preApplyChecksum !== 0n) {
      headerError("ltx_invalid", "preApplyChecksum", "pre-apply checksum must be zero on snapshots");
    }
  } else if (!isChecksumTracked(h)) {
    if (h.preApplyChecksum !== 0n) {
      headerError("ltx_invalid", "preApplyChecksum", "pre-apply checksum not allowed with NoChecksum flag");
    }
  } else {
    if (h.preApplyChecksum === 0n) {
      headerError("ltx_invalid", "preApplyChecksum", "pre-apply checksum required on non-snapshot files");
    }
    if ((h.preApplyChecksum & CHECKSUM_FLAG) === 0n) {
      headerError("ltx_invalid", "preApplyChecksum", "invalid pre-apply checksum format (bit 63 clear)");
    }
  }
  checkU64("nodeID", h.nodeID);
}

/** Validates, then writes the 100 header bytes; the 20 reserved bytes stay zero. */
export function encodeHeader(h: LtxHeader): Uint8Array {
  validateHeader(h);
  const out = new Uint8Array(HEADER_SIZE);
  const v = new DataView(out.buffer);
  out.set(LTX_MAGIC, 0);
  v.setUint32(4, h.flags);
  v.setUint32(8, h.pageSize);
  v.setUint32(12, h.commit);
  v.setBigUint64(16, h.minTXID);
  v.setBigUint64(24, h.maxTXID);
  v.setBigInt64(32, h.timestamp);
  v.setBigUint64(40, h.preApplyChecksum);
  v.setBigInt64(48, h.walOffset);
  v.setBigInt64(56, h.walSize);
  v.setUint32(64, h.walSalt1);
  v.setUint32(68, h.walSalt2);
  v.setBigUint64(72, h.nodeID);
  return out;
}

/** Parses and validates; the reserved bytes are ignored as the Go decoder does (§2). */
export function decodeHeader(bytes: Uint8Array): LtxHeader {
  if (bytes.length < HEADER_SIZE) {
    throw ltxError("ltx_truncated", `LTX header needs ${HEADER_SIZE} bytes, got ${bytes.length}`, {
      offset: bytes.length,
    });
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== LTX_MAGIC[i]) {
      throw ltxError("ltx_invalid", 'not an LTX file: magic is not "LTX1"', { field: "magic", offset: 0 });
    }
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const h: LtxHeader = {
    flags: v.getUint32(4),
    pageSize: v.getUint32(8),
    commit: v.getUint32(12),
    minTXID: v.getBigUint64(16),
    maxTXID: v.getBigUint64(24),
    timestamp: v.getBigInt64(32),
    preApplyChecksum: v.getBigUint64(40),
    walOffset: v.getBigInt64(48),
    walSize: v.getBigInt64(56),
    walSalt1: v.getUint32(64),
    walSalt2: v.getUint32(68),
    nodeID: v.getBigUint64(72),
  };
  validateHeader(h);
  return h;
}

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}
