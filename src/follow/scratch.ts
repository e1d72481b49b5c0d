/**
 * The follower's scratch directory, `.<name>-walship-follow/` next to the database: downloads, staged
 * pages and bootstrap images (on the same filesystem, so a bootstrap image can be renamed into place), and
 * the pid lock that keeps one follower per database.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { acquireMetaLock } from "../db/meta-lock.js";
import { isWalshipError, WalshipError } from "../errors.js";

const LOCK_FILE = "lock";

export function scratchDir(db: string): string {
  return join(dirname(db), `.${basename(db)}-walship-follow`);
}

/** Takes the lock (a dead holder's lock is taken over); returns its release. */
export async function lockScratch(scratch: string, db: string): Promise<() => void> {
  await mkdir(scratch, { recursive: true });
  try {
    return acquireMetaLock(scratch, db);
  } catch (e) {
    if (!isWalshipError(e, "db_locked")) throw e;
    throw new WalshipError("db_locked", `another follower is already writing ${db}`, {
      op: "follow start",
      context: { db },
      hint: "stop that `walship replicate` first; one follower per local database",
      cause: e,
    });
  }
}

/** Leftovers of a killed run: downloads, staged pages, half-restored images. */
export async function cleanScratch(scratch: string): Promise<void> {
  for (const name of await readdir(scratch)) {
    if (name !== LOCK_FILE) await rm(join(scratch, name), { recursive: true, force: true });
  }
}
