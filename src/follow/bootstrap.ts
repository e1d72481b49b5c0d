/**
 * Bootstrapping: the newest restorable state of the replica, built by the ordinary restore (same plan,
 * same merge) into the follower's scratch directory and stamped for rollback-journal readers.
 *
 * - No local database yet: the image is renamed into place. Nobody can have the old file open, so a
 *   rename is enough; a stale -journal/-wal/-shm is removed first, or SQLite would "recover" the new file
 *   from it.
 * - A local database that readers may hold open (a gap, a rewound replica): the image is never renamed
 *   over it, because readers with open connections would keep reading the old inode forever. Its
 *   differing pages are applied in place like any other apply, under the lock and the journal.
 */
import { randomInt } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_RESTORE_CONCURRENCY } from "../defaults.js";
import { WalshipError } from "../errors.js";
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { restore } from "../restore/restore.js";
import { fsyncDir } from "./fsutil.js";
import { DB_HEADER_SIZE, readDbHeader, stampPage1 } from "./header.js";
import { journalPath } from "./journal.js";
import { writeProgress } from "./progress.js";

export interface Image {
  path: string;
  txid: bigint;
  pageSize: number;
  pages: number;
  changeCounter: number;
  /** Creation time (ms) of the newest file in the chain, for lag. */
  timestamp: number;
  files: LtxFileInfo[];
  bytes: number;
}

/** Restores the replica's newest state into `dir`; null when the replica holds no backup yet. */
export async function restoreImage(
  client: ReplicaClient,
  dir: string,
  signal?: AbortSignal,
): Promise<Image | null> {
  const out = join(dir, "image.db");
  const r = await restore(client, {
    output: out,
    force: true,
    ifReplicaExists: true,
    concurrency: DEFAULT_RESTORE_CONCURRENCY,
    signal,
  });
  if (r.status === "skipped") return null;
  if (r.legacy || r.txid === undefined) {
    await rm(out, { force: true });
    throw new WalshipError("replica_not_found", `${client.location} holds only Litestream v0.3 backups`, {
      op: "follow bootstrap",
      hint: "follow needs a v0.5 (LTX) replica: restore it once with `walship restore`, then replicate it with walship",
    });
  }
  const fh = await open(out, "r+");
  try {
    const head = new Uint8Array(DB_HEADER_SIZE);
    await fh.read(head, 0, DB_HEADER_SIZE, 0);
    const pageSize = readDbHeader(head).pageSize;
    const pages = Math.floor((await fh.stat()).size / pageSize);
    // A random start, as Litestream does: a reader that cached another file at this path must not match.
    const changeCounter = randomInt(1, 0xffff_ffff);
    stampPage1(head, changeCounter, pages);
    await fh.write(head, 0, DB_HEADER_SIZE, 0);
    await fh.sync();
    const last = r.files[r.files.length - 1];
    return {
      path: out,
      txid: r.txid,
      pageSize,
      pages,
      changeCounter,
      timestamp: last?.createdAt ?? Date.now(),
      files: r.files,
      bytes: r.files.reduce((n, f) => n + f.size, 0),
    };
  } finally {
    await fh.close();
  }
}

/** First bootstrap: progress first, then the rename (a crash in between leaves no database: bootstrap again). */
export async function installImage(image: Image, db: string, replica: string): Promise<void> {
  for (const side of [journalPath(db), `${db}-wal`, `${db}-shm`]) await rm(side, { force: true });
  await writeProgress(db, {
    txid: image.txid,
    changeCounter: image.changeCounter,
    pageSize: image.pageSize,
    previous: null,
    replica,
    timestamp: image.timestamp,
  });
  await rename(image.path, db);
  await fsyncDir(db);
}
