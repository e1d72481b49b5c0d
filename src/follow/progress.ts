/**
 * The follower's progress file, `<db>-walship-follow.json`, written atomically (temp file, fsync, rename,
 * directory fsync). It pairs each TXID with the change counter the apply stamped into page 1, and keeps
 * the previous pair too: it is written just before an apply's commit point, so after a crash the counter
 * in the database (once SQLite has rolled back any hot journal) says which of the two the file holds.
 * A bare `<db>-txid` (Litestream's) could lag the database by one apply, and re-applying from there with a
 * size-limited batch could expose a mixed state.
 */
import { readFile, rename, rm } from "node:fs/promises";
import { formatTXID } from "../ltx/filename.js";
import { fsyncDir, writeFileSynced } from "./fsutil.js";

export const PROGRESS_FORMAT_VERSION = 1;

export interface ProgressPoint {
  txid: bigint;
  changeCounter: number;
}

export interface Progress extends ProgressPoint {
  pageSize: number;
  /** The state before the newest apply, for resolving a crash between writing this file and the commit. */
  previous: ProgressPoint | null;
  /** Where the follower reads from; another replica's TXIDs do not apply, so a change means bootstrap. */
  replica: string;
  /** LTX timestamp (ms) of the newest applied file, for lag after a restart. */
  timestamp: number;
}

interface ProgressJson {
  version: number;
  txid: string;
  changeCounter: number;
  pageSize: number;
  previous: { txid: string; changeCounter: number } | null;
  replica: string;
  timestamp: number;
  updatedAt: string;
}

export function progressPath(db: string): string {
  return `${db}-walship-follow.json`;
}

export async function readProgress(db: string): Promise<Progress | null> {
  let text: string;
  try {
    text = await readFile(progressPath(db), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const j = JSON.parse(text) as ProgressJson;
    if (j.version !== PROGRESS_FORMAT_VERSION) return null;
    return {
      txid: BigInt(`0x${j.txid}`),
      changeCounter: j.changeCounter,
      pageSize: j.pageSize,
      previous: j.previous
        ? { txid: BigInt(`0x${j.previous.txid}`), changeCounter: j.previous.changeCounter }
        : null,
      replica: j.replica,
      timestamp: j.timestamp,
    };
  } catch {
    // Unreadable progress is treated as absent: the follower re-bootstraps rather than guess.
    return null;
  }
}

/**
 * First half of an update: the new content, fsynced under a temporary name. Done before an apply takes
 * its lock, so readers are not held off for it.
 */
export async function stageProgress(db: string, p: Progress): Promise<void> {
  const j: ProgressJson = {
    version: PROGRESS_FORMAT_VERSION,
    txid: formatTXID(p.txid),
    changeCounter: p.changeCounter,
    pageSize: p.pageSize,
    previous: p.previous
      ? { txid: formatTXID(p.previous.txid), changeCounter: p.previous.changeCounter }
      : null,
    replica: p.replica,
    timestamp: p.timestamp,
    updatedAt: new Date().toISOString(),
  };
  await writeFileSynced(`${progressPath(db)}.tmp`, `${JSON.stringify(j, null, 2)}\n`);
}

/** Second half: the staged content replaces the file atomically and durably. */
export async function publishProgress(db: string): Promise<void> {
  const path = progressPath(db);
  await rename(`${path}.tmp`, path);
  await fsyncDir(path);
}

export async function writeProgress(db: string, p: Progress): Promise<void> {
  await stageProgress(db, p);
  await publishProgress(db);
}

export async function removeProgress(db: string): Promise<void> {
  await rm(progressPath(db), { force: true });
  await rm(`${progressPath(db)}.tmp`, { force: true });
}

/** Which TXID the database holds, given the counter in its header; null when neither point matches. */
export function resolveTXID(p: Progress | null, changeCounter: number): bigint | null {
  if (!p) return null;
  if (p.changeCounter === changeCounter) return p.txid;
  if (p.previous && p.previous.changeCounter === changeCounter) return p.previous.txid;
  return null;
}
