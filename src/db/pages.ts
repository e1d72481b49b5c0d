/**
 * Small pieces of capture: which pages a file must carry, and reads of the -wal file and staged headers.
 */
import { type FileHandle, open } from "node:fs/promises";
import { decodeHeader, HEADER_SIZE, type LtxHeader, lockPgno } from "../ltx/header.js";
import { WAL_HEADER_SIZE } from "../wal/header.js";
import type { WalScan } from "../wal/reader.js";

export function changedPages(scan: WalScan, prevCommit: number, commit: number, pageSize: number): number[] {
  const lock = lockPgno(pageSize);
  const set = new Set<number>();
  for (const pg of scan.pages.keys()) if (pg <= commit && pg !== lock) set.add(pg);
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
