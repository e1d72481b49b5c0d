/**
 * Helpers for tests that need real WAL files written by SQLite (through better-sqlite3), plus tools to
 * damage or re-sign copies of them. SQLite deletes `-wal` when the last connection closes, so tests keep a
 * connection open while reading, and work on byte copies when they need to tamper.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { walFrameChecksumUpdate } from "../../src/wal/checksum.js";
import {
  encodeWalHeader,
  parseWalHeader,
  WAL_HEADER_SIZE,
  type WalHeader,
  walFrameSize,
} from "../../src/wal/header.js";
import { readPage, type WalScan } from "../../src/wal/reader.js";

export interface TempDir {
  path: string;
  cleanup(): void;
}

export function tempDir(prefix = "walship-test-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface WalDbOptions {
  /** Page cache size in pages; a tiny cache makes SQLite spill an open transaction's pages into the WAL. */
  cacheSize?: number;
  pageSize?: number;
}

/** Open (creating if needed) a WAL-mode database with automatic checkpoints off, so the WAL only grows. */
export function openWalDb(path: string, opts: WalDbOptions = {}): Database.Database {
  const db = new Database(path);
  if (opts.pageSize !== undefined) db.pragma(`page_size=${opts.pageSize}`);
  const mode = db.pragma("journal_mode=WAL", { simple: true });
  if (mode !== "wal") throw new Error(`journal_mode is ${String(mode)}, expected wal`);
  db.pragma("wal_autocheckpoint=0");
  if (opts.cacheSize !== undefined) db.pragma(`cache_size=${opts.cacheSize}`);
  return db;
}

/** Byte copies of the database file and its WAL, taken while the writer is idle. */
export function copyDbAndWal(dbPath: string): { db: Uint8Array; wal: Uint8Array } {
  return { db: new Uint8Array(readFileSync(dbPath)), wal: new Uint8Array(readFileSync(`${dbPath}-wal`)) };
}

/**
 * The database image SQLite itself produces from (db, wal): both are written to a scratch directory, SQLite
 * opens them (recovering the WAL, which ignores frames after the last valid commit), checkpoints, closes.
 */
export function sqliteImage(db: Uint8Array, wal: Uint8Array): Uint8Array {
  const dir = tempDir("walship-image-");
  try {
    const p = join(dir.path, "image.db");
    writeFileSync(p, db);
    writeFileSync(`${p}-wal`, wal);
    const conn = new Database(p);
    conn.pragma("wal_checkpoint(TRUNCATE)");
    conn.close();
    return new Uint8Array(readFileSync(p));
  } finally {
    dir.cleanup();
  }
}

/**
 * The database image a replica would reconstruct: `db` overlaid with the scans' pages (later scans win),
 * sized to the last scan's commit. Page bytes come from `walPath` through `readPage`.
 */
export async function applyScans(db: Uint8Array, walPath: string, scans: WalScan[]): Promise<Uint8Array> {
  const last = scans.at(-1);
  if (last === undefined || last.header === null || last.commit === 0) throw new Error("no committed scan");
  const pageSize = last.header.pageSize;
  const out = new Uint8Array(last.commit * pageSize);
  out.set(db.subarray(0, Math.min(db.length, out.length)));
  const fh = await open(walPath, "r");
  try {
    for (const scan of scans) {
      for (const [pgno, offset] of scan.pages) {
        if (pgno <= last.commit) out.set(await readPage(fh, offset, pageSize), (pgno - 1) * pageSize);
      }
    }
  } finally {
    await fh.close();
  }
  return out;
}

/** Write `bytes` to a scratch file and run `fn` with a read handle on it. */
export async function withWalBytes<T>(
  bytes: Uint8Array,
  fn: (fh: FileHandle, path: string) => Promise<T>,
): Promise<T> {
  const dir = tempDir("walship-walcopy-");
  const path = join(dir.path, "copy.db-wal");
  writeFileSync(path, bytes);
  const fh = await open(path, "r");
  try {
    return await fn(fh, path);
  } finally {
    await fh.close();
    dir.cleanup();
  }
}

export interface FrameInfo {
  offset: number;
  pgno: number;
  commit: number;
}

/** The frames of a WAL image that validate (salts and running checksum), in order, without the tail. */
export function validFrames(wal: Uint8Array): { header: WalHeader; frames: FrameInfo[] } {
  const header = parseWalHeader(wal);
  const dv = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  const frameSize = walFrameSize(header.pageSize);
  const state = { s0: header.checksum1, s1: header.checksum2 };
  const frames: FrameInfo[] = [];
  for (let off = WAL_HEADER_SIZE; off + frameSize <= wal.length; off += frameSize) {
    if (dv.getUint32(off + 8) !== header.salt1 || dv.getUint32(off + 12) !== header.salt2) break;
    walFrameChecksumUpdate(state, wal, off, header.pageSize, header.bigEndianChecksums);
    if (state.s0 !== dv.getUint32(off + 16) || state.s1 !== dv.getUint32(off + 20)) break;
    frames.push({ offset: off, pgno: dv.getUint32(off), commit: dv.getUint32(off + 4) });
  }
  return { header, frames };
}

/**
 * Re-sign a WAL image with checksums over words of the given byte order: new magic and header checksum,
 * and every valid frame's running checksum recomputed. Bytes after the valid frames are left as they are
 * (they fail validation either way), so the re-signed WAL has the same valid prefix as the original.
 */
export function resignWal(wal: Uint8Array, bigEndian: boolean): Uint8Array {
  const { header, frames } = validFrames(wal);
  const out = new Uint8Array(wal);
  out.set(encodeWalHeader({ ...header, bigEndianChecksums: bigEndian }), 0);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const state = { s0: dv.getUint32(24), s1: dv.getUint32(28) };
  for (const f of frames) {
    walFrameChecksumUpdate(state, out, f.offset, header.pageSize, bigEndian);
    dv.setUint32(f.offset + 16, state.s0);
    dv.setUint32(f.offset + 20, state.s1);
  }
  return out;
}

/** Fill a table with `n` rows of random blobs in one transaction. */
export function insertRows(db: Database.Database, n: number, blobSize: number): void {
  const ins = db.prepare("INSERT INTO t(v) VALUES (randomblob(?))");
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run(blobSize);
  })();
}

export interface WalDbFixture {
  path: string;
  walPath: string;
  /** Keeps the -wal file alive; the tests' writer. */
  db: Database.Database;
}

/** A new WAL database `<dir>/<name>.db` with table t(id INTEGER PRIMARY KEY, v BLOB). */
export function createWalDb(dir: string, name: string, opts: WalDbOptions = {}): WalDbFixture {
  const path = join(dir, `${name}.db`);
  const db = openWalDb(path, opts);
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  return { path, walPath: `${path}-wal`, db };
}
