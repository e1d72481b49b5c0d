/**
 * Commits read under the checkpoint barrier and held in memory until the next level-0 file: they slipped
 * in between walship's last capture and its taking of the write lock, and the checkpoint may copy them
 * into the database file (and the app then restart the WAL over them) before that file is written.
 */
import type { WalPosition } from "../wal/reader.js";
import type { CaughtUp } from "./pages.js";

export interface Held {
  /** The newest image of each page the held commits wrote. */
  pages: Map<number, Uint8Array>;
  /** Database size in pages at the last staged file. */
  prevCommit: number;
  /** Database size in pages after the held commits. */
  commit: number;
  /** WAL byte range the held commits came from, and its generation, for the next file's header. */
  start: number;
  end: number;
  salt1: number;
  salt2: number;
}

/** Adds newly caught-up commits: newer images win, and pages past a shrunken size are dropped. */
export function addHeld(held: Held | null, c: CaughtUp, prevCommit: number, pos: WalPosition): Held {
  const h = held ?? {
    pages: new Map(),
    prevCommit,
    commit: 0,
    start: c.start,
    end: c.end,
    salt1: pos.salt1,
    salt2: pos.salt2,
  };
  for (const [pgno, data] of c.pages) h.pages.set(pgno, data);
  for (const pgno of [...h.pages.keys()]) if (pgno > c.commit) h.pages.delete(pgno);
  h.commit = c.commit;
  h.end = c.end;
  return h;
}
