/**
 * The database-header fields a follower owns (sqlite-wal.md §5). Readers in rollback-journal mode decide
 * whether their page cache is still valid from the change counter, so every apply must change it; the
 * in-header page count is trusted only while version-valid-for equals the counter, so both move together.
 */

export const DB_HEADER_SIZE = 100;
const MAGIC = "SQLite format 3\0";

const WRITE_VERSION = 18;
const READ_VERSION = 19;
const CHANGE_COUNTER = 24;
const PAGE_COUNT = 28;
const VERSION_VALID_FOR = 92;

/** 1 = rollback journal; 2 = WAL, which would send readers looking for a -wal file nobody writes. */
export const ROLLBACK_JOURNAL_VERSION = 1;

export interface DbHeader {
  pageSize: number;
  changeCounter: number;
  /** In-header page count (valid only when versionValidFor equals changeCounter). */
  pageCount: number;
  writeVersion: number;
  readVersion: number;
}

export function isSqliteHeader(b: Uint8Array): boolean {
  return b.length >= DB_HEADER_SIZE && Buffer.from(b.buffer, b.byteOffset, 16).toString("latin1") === MAGIC;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function readDbHeader(b: Uint8Array): DbHeader {
  const v = view(b);
  const raw = v.getUint16(16);
  return {
    pageSize: raw === 1 ? 65536 : raw,
    changeCounter: v.getUint32(CHANGE_COUNTER),
    pageCount: v.getUint32(PAGE_COUNT),
    writeVersion: b[WRITE_VERSION]!,
    readVersion: b[READ_VERSION]!,
  };
}

/**
 * Rewrites page 1's follower-owned fields in place: rollback-journal mode, the change counter, and the
 * page count with a matching version-valid-for, so readers both notice the change and size the file right.
 */
export function stampPage1(page1: Uint8Array, changeCounter: number, pageCount: number): void {
  const v = view(page1);
  page1[WRITE_VERSION] = ROLLBACK_JOURNAL_VERSION;
  page1[READ_VERSION] = ROLLBACK_JOURNAL_VERSION;
  v.setUint32(CHANGE_COUNTER, changeCounter >>> 0);
  v.setUint32(PAGE_COUNT, pageCount >>> 0);
  v.setUint32(VERSION_VALID_FOR, changeCounter >>> 0);
}

/** The counter after `c`: wraps at 2^32 like SQLite's own; only inequality matters to readers. */
export function nextChangeCounter(c: number): number {
  return (c + 1) >>> 0;
}
