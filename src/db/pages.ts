/**
 * Small pieces of capture: which pages a file must carry, and reads of the -wal file and staged headers.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { decodeHeader, HEADER_SIZE, type LtxHeader, lockPgno } from "../ltx/header.js";
import { walChecksum } from "../wal/checksum.js";
import {
  parseWalFrameHeader,
  parseWalHeader,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  walFrameSize,
} from "../wal/header.js";
import type { WalPosition } from "../wal/reader.js";

export function changedPages(
  written: Iterable<number>,
  prevCommit: number,
  commit: number,
  pageSize: number,
): number[] {
  const lock = lockPgno(pageSize);
  const set = new Set<number>();
  for (const pg of written) if (pg <= commit && pg !== lock) set.add(pg);
  // Growth pages: a larger database must carry every page past the old size, or a compaction into a
  // snapshot would have holes.
  for (let pg = prevCommit + 1; pg <= commit; pg++) if (pg !== lock) set.add(pg);
  return [...set].sort((a, b) => a - b);
}

export function* allPages(commit: number, pageSize: number): Generator<number> {
  const lock = lockPgno(pageSize);
  for (let pg = 1; pg <= commit; pg++) if (pg !== lock) yield pg;
}

export async function openWal(dbPath: string): Promise<FileHandle | null> {
  try {
    return await open(`${dbPath}-wal`, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

export async function readAt(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

export async function sameHeader(fh: FileHandle, head: Uint8Array): Promise<boolean> {
  const now = await readAt(fh, 0, WAL_HEADER_SIZE);
  if (now.length !== head.length) return false;
  for (let i = 0; i < head.length; i++) if (now[i] !== head[i]) return false;
  return true;
}

export function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

export async function readStagedHeader(path: string): Promise<LtxHeader> {
  const fh = await open(path, "r");
  try {
    const buf = await readAt(fh, 0, HEADER_SIZE);
    return decodeHeader(buf);
  } finally {
    await fh.close();
  }
}

/**
 * Whether the WAL ends exactly where walship has read (synchronously, for use under the write lock):
 * the header still has the position's salts and the frame at the position is not a valid continuation
 * of the checksum chain, which is SQLite's own rule for where a WAL ends.
 */
export function walEndsAtSync(path: string, pos: WalPosition | null, pageSize: number): boolean {
  let fd: number;
  try {
    fd = openSync(`${path}-wal`, "r");
  } catch {
    return pos === null;
  }
  try {
    const head = new Uint8Array(WAL_HEADER_SIZE);
    if (readSync(fd, head, 0, WAL_HEADER_SIZE, 0) < WAL_HEADER_SIZE || isZero(head)) return true;
    if (pos === null) return false;
    const h = parseWalHeader(head);
    if (h.salt1 !== pos.salt1 || h.salt2 !== pos.salt2) return false;
    const frame = new Uint8Array(walFrameSize(pageSize));
    if (readSync(fd, frame, 0, frame.length, pos.offset) < frame.length) return true;
    const f = parseWalFrameHeader(frame, 0);
    if (f.salt1 !== h.salt1 || f.salt2 !== h.salt2) return true;
    let [c1, c2] = walChecksum(frame, 0, 8, h.bigEndianChecksums, pos.checksum1, pos.checksum2);
    [c1, c2] = walChecksum(frame, WAL_FRAME_HEADER_SIZE, frame.length, h.bigEndianChecksums, c1, c2);
    return !(c1 === f.checksum1 && c2 === f.checksum2);
  } finally {
    closeSync(fd);
  }
}

/** Committed frames read synchronously past a position: held in memory while SQLite's write lock is held. */
export interface CaughtUp {
  /** Latest committed image of each page in the range (pages above `commit` dropped). */
  pages: Map<number, Uint8Array>;
  /** WAL data offset of each of those images. */
  offsets: Map<number, number>;
  commit: number;
  start: number;
  end: number;
  position: WalPosition;
  txCount: number;
}

/**
 * Reads the committed frames after `pos` synchronously (for use under the write lock, where an await could
 * deadlock with a synchronous writer in the same process). Returns null when the WAL restarted or more
 * than `maxBytes` follow: the caller then releases the lock and catches up asynchronously first.
 */
export function catchUpSync(
  path: string,
  pos: WalPosition,
  pageSize: number,
  maxBytes: number,
): CaughtUp | null {
  const fd = openSync(`${path}-wal`, "r");
  try {
    const head = new Uint8Array(WAL_HEADER_SIZE);
    if (readSync(fd, head, 0, WAL_HEADER_SIZE, 0) < WAL_HEADER_SIZE || isZero(head)) return null;
    const h = parseWalHeader(head);
    if (h.salt1 !== pos.salt1 || h.salt2 !== pos.salt2) return null;
    const size = walFrameSize(pageSize);
    const frame = new Uint8Array(size);
    const out: CaughtUp = {
      pages: new Map(),
      offsets: new Map(),
      commit: 0,
      start: pos.offset,
      end: pos.offset,
      position: pos,
      txCount: 0,
    };
    const tx = new Map<number, { data: Uint8Array; offset: number }>();
    let [c1, c2] = [pos.checksum1, pos.checksum2];
    for (let off = pos.offset; ; off += size) {
      if (off - pos.offset >= maxBytes) return null;
      if (readSync(fd, frame, 0, size, off) < size) break;
      const f = parseWalFrameHeader(frame, 0);
      if (f.salt1 !== h.salt1 || f.salt2 !== h.salt2) break;
      let [a, b] = walChecksum(frame, 0, 8, h.bigEndianChecksums, c1, c2);
      [a, b] = walChecksum(frame, WAL_FRAME_HEADER_SIZE, size, h.bigEndianChecksums, a, b);
      if (a !== f.checksum1 || b !== f.checksum2) break;
      [c1, c2] = [a, b];
      tx.set(f.pgno, { data: frame.slice(WAL_FRAME_HEADER_SIZE), offset: off + WAL_FRAME_HEADER_SIZE });
      if (f.commit === 0) continue;
      for (const [pgno, p] of tx) {
        out.pages.set(pgno, p.data);
        out.offsets.set(pgno, p.offset);
      }
      tx.clear();
      out.commit = f.commit;
      out.end = off + size;
      out.position = { offset: off + size, salt1: h.salt1, salt2: h.salt2, checksum1: c1, checksum2: c2 };
      out.txCount++;
    }
    for (const pgno of [...out.pages.keys()]) {
      if (pgno > out.commit) {
        out.pages.delete(pgno);
        out.offsets.delete(pgno);
      }
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
