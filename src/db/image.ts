/**
 * A full-database image at one TXID for snapshots, read page by page from walship's WAL map and the
 * database file, refused when the WAL restarted under it.
 */
import type { FileHandle } from "node:fs/promises";
import { WalshipError } from "../errors.js";
import { parseWalHeader, WAL_HEADER_SIZE } from "../wal/header.js";
import type { WalPosition } from "../wal/reader.js";
import { allPages, isZero, openWal, readAt } from "./pages.js";

export interface PageSource {
  pageSize: number;
  commit: number;
  txid: bigint;
  /** Pages 1..commit (lock page skipped), each valid until the next call. */
  pages(): AsyncGenerator<{ pgno: number; data: Uint8Array }>;
}

export interface ImageInput {
  db: string;
  pageSize: number;
  commit: number;
  txid: bigint;
  /** Page -> WAL offset of its image at `txid` (pages not in it are read from the database file). */
  walMap: Map<number, number>;
  /** The WAL generation walMap belongs to. */
  generation: WalPosition | null;
  readPage(pgno: number, map: Map<number, number>, fh: FileHandle | null): Promise<Uint8Array>;
}

/** True when the WAL's header still carries the salts of `gen` (no restart since it was read). */
async function walGenerationIs(fh: FileHandle, gen: WalPosition): Promise<boolean> {
  const head = await readAt(fh, 0, WAL_HEADER_SIZE);
  if (head.length < WAL_HEADER_SIZE || isZero(head)) return false;
  const h = parseWalHeader(head);
  return h.salt1 === gen.salt1 && h.salt2 === gen.salt2;
}

export async function openImage(i: ImageInput): Promise<PageSource> {
  const fh = await openWal(i.db);
  const map = i.walMap;
  const gen = i.generation;
  return {
    pageSize: i.pageSize,
    commit: i.commit,
    txid: i.txid,
    async *pages() {
      try {
        for (const pgno of allPages(i.commit, i.pageSize)) {
          yield { pgno, data: await i.readPage(pgno, map, fh) };
        }
        // A WAL restart overwrites the frames `map` points at; only the salts can tell. It is possible
        // while walship sits on SQLite's read mark 0 (after its own complete checkpoint).
        if (map.size > 0 && !(fh && gen && (await walGenerationIs(fh, gen)))) {
          throw new WalshipError("wal_invalid", "the WAL restarted while the snapshot image was read", {
            op: "snapshot",
            context: { db: i.db, txid: i.txid },
            hint: "the app wrote during the snapshot; walship takes it again at the next tick",
            retryable: true,
          });
        }
      } finally {
        await fh?.close();
      }
    },
  };
}
