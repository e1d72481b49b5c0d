/**
 * The follower's hold on its local database: one SQLite connection used only for SQLite's own locks, and
 * one file descriptor for reading and writing pages.
 *
 * An apply is an ordinary rollback-journal transaction done by hand, so every reader of the file (any
 * SQLite, any process) sees the old state or the new one, never a mix:
 *   1. BEGIN EXCLUSIVE on the connection: SQLite takes RESERVED, PENDING (new readers get SQLITE_BUSY) and,
 *      once current readers finish, EXCLUSIVE. The connection itself never writes, so COMMIT only unlocks.
 *      PENDING shuts new readers out while it waits, so each attempt is short, with a pause between them
 *      for readers to get in: one long read cannot make the follower lock everyone else out for long.
 *   2. The original of every page about to change (and of every page truncation removes) goes into
 *      `<db>-journal` in SQLite's format, fsynced.
 *   3. The new pages are written through the descriptor, page 1 stamped with a new change counter (readers
 *      drop their caches) and rollback-journal mode; the file is cut to commit x pageSize; fsync.
 *   4. The caller records progress, then the journal is deleted: that unlink is the commit point.
 *   5. COMMIT releases the lock.
 * If the process dies between 2 and 4 the journal is hot and the next connection to open the file rolls it
 * back. If an apply fails in the same window the lock is released with the journal still there and this
 * connection's next read rolls it back at once.
 *
 * Descriptors are opened once per file per process and never closed while the file is current: closing
 * any descriptor of a file drops every POSIX lock this process holds on it, including SQLite's.
 */
import { existsSync } from "node:fs";
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { resolve } from "node:path";
import Database from "better-sqlite3";
import { WalshipError } from "../errors.js";
import { lockPgno } from "../ltx/header.js";
import type { SqliteDriver, SqliteHandle } from "../sqlite/handle.js";
import { fsyncDir } from "./fsutil.js";
import {
  DB_HEADER_SIZE,
  type DbHeader,
  isSqliteHeader,
  nextChangeCounter,
  ROLLBACK_JOURNAL_VERSION,
  readDbHeader,
  stampPage1,
} from "./header.js";
import { JournalWriter, journalPath } from "./journal.js";
import { type PageSet, pageRuns } from "./page-set.js";

/** Pages moved per read/write call (1 MiB at 4 KiB pages). */
const PAGES_PER_IO = 256;
/** Longest stretch (ms) one lock attempt holds PENDING; ordinary reads finish well within it. */
const LOCK_ATTEMPT_MS = 200;
/** Pause (ms) between lock attempts, in which new readers may start. */
const LOCK_RETRY_PAUSE_MS = 100;

export type ApplyStage = "journaled" | "written";

export interface LocalDbOptions {
  lockTimeoutMs: number;
  driver?: SqliteDriver;
}

export interface ApplyStats {
  lockWaitMs: number;
  lockHeldMs: number;
  pagesWritten: number;
  pagesJournaled: number;
  changeCounter: number;
}

export interface CommitInfo {
  oldChangeCounter: number;
  newChangeCounter: number;
}

/** How an apply records progress: prepared before the lock, published just before the commit point. */
export interface CommitRecord {
  prepare(c: CommitInfo): Promise<void>;
  publish(): Promise<void>;
}

const handles = new Map<string, FileHandle>();

/** The process-wide descriptor for the file that `path` names now. */
async function dbHandle(path: string): Promise<FileHandle> {
  const key = resolve(path);
  const st = await stat(path);
  const have = handles.get(key);
  if (have) {
    const hs = await have.stat();
    if (hs.ino === st.ino && hs.dev === st.dev) return have;
    // The path names a new file (bootstrapped by rename); locks on the old inode are of no use to anyone.
    await have.close().catch(() => undefined);
  }
  const fh = await open(path, "r+");
  handles.set(key, fh);
  return fh;
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

/** Runs fn (one lock attempt of up to LOCK_ATTEMPT_MS) until it is not busy or timeoutMs has passed. */
async function retryBusy(fn: () => unknown, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fn();
      return;
    } catch (e) {
      if (!isBusy(e) || Date.now() + LOCK_RETRY_PAUSE_MS >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, LOCK_RETRY_PAUSE_MS));
  }
}

function lockError(path: string, e: unknown, timeoutMs: number): WalshipError {
  if (isBusy(e)) {
    return new WalshipError("db_locked", `readers held ${path} for more than ${timeoutMs} ms`, {
      op: "follow apply",
      context: { db: path },
      hint: "a long read transaction delays the update; it is retried at the next poll",
      retryable: true,
      cause: e,
    });
  }
  return new WalshipError("db_invalid", `cannot lock ${path}: ${(e as Error).message}`, {
    op: "follow apply",
    context: { db: path },
    cause: e,
  });
}

export class LocalDb {
  private constructor(
    readonly path: string,
    readonly pageSize: number,
    private readonly fh: FileHandle,
    private readonly conn: SqliteHandle,
    private readonly lockTimeoutMs: number,
  ) {}

  /** Opens an existing database, rolling back a hot journal left by a crashed apply first. */
  static async open(path: string, opts: LocalDbOptions): Promise<LocalDb> {
    const fh = await dbHandle(path);
    const head = new Uint8Array(DB_HEADER_SIZE);
    const { bytesRead } = await fh.read(head, 0, DB_HEADER_SIZE, 0);
    if (bytesRead < DB_HEADER_SIZE || !isSqliteHeader(head)) {
      throw new WalshipError("db_invalid", `not a SQLite database: ${path}`, {
        op: "follow open",
        context: { db: path },
        hint: "remove it (and its -walship-follow.json) so the follower bootstraps a fresh copy",
      });
    }
    const h = readDbHeader(head);
    if (h.writeVersion !== ROLLBACK_JOURNAL_VERSION || h.readVersion !== ROLLBACK_JOURNAL_VERSION) {
      if (existsSync(`${path}-wal`) || existsSync(`${path}-shm`)) {
        throw new WalshipError("db_invalid", `${path} is in use in WAL mode`, {
          op: "follow open",
          context: { db: path },
          hint: "a follower's database is read-only for everyone else; follow into another path",
        });
      }
      // Nobody has it open in WAL mode (no -shm), so switching the header before SQLite sees it is safe.
      head[18] = ROLLBACK_JOURNAL_VERSION;
      head[19] = ROLLBACK_JOURNAL_VERSION;
      await fh.write(head, 18, 2, 18);
      await fh.sync();
    }
    const Driver = opts.driver ?? (Database as unknown as SqliteDriver);
    const conn = new Driver(path, { fileMustExist: true, timeout: LOCK_ATTEMPT_MS });
    try {
      // The first read takes SHARED, which is when SQLite rolls back a hot journal.
      await retryBusy(() => conn.prepare("SELECT count(*) FROM sqlite_master").get(), opts.lockTimeoutMs);
    } catch (e) {
      conn.close();
      throw lockError(path, e, opts.lockTimeoutMs);
    }
    const db = new LocalDb(path, h.pageSize, fh, conn, opts.lockTimeoutMs);
    return db;
  }

  /** Header and size as they are now (the follower is the only writer, so no lock is needed). */
  async header(): Promise<DbHeader & { filePages: number }> {
    const head = new Uint8Array(DB_HEADER_SIZE);
    await this.fh.read(head, 0, DB_HEADER_SIZE, 0);
    const size = (await this.fh.stat()).size;
    return { ...readDbHeader(head), filePages: Math.floor(size / this.pageSize) };
  }

  /** Reads whole pages starting at pgno into buf (for diffs); short at the end of the file. */
  async readPages(pgno: number, buf: Uint8Array): Promise<number> {
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, (pgno - 1) * this.pageSize);
    return Math.floor(bytesRead / this.pageSize);
  }

  /**
   * Applies `set` atomically (see the file comment). `record` is published while the change is complete
   * but still undoable, so a crash on either side of the commit point is resolvable. It is prepared
   * before locking with the counter the file has now: only this process writes the file, so the guess
   * holds unless an earlier failed apply was rolled back meanwhile, which is re-checked under the lock.
   */
  async apply(
    set: PageSet,
    record: CommitRecord,
    onStage?: (stage: ApplyStage) => Promise<void> | void,
  ): Promise<ApplyStats> {
    const ps = this.pageSize;
    if (set.pageSize !== ps) {
      throw new WalshipError(
        "db_invalid",
        `replica page size ${set.pageSize} differs from the local database's ${ps}`,
        {
          op: "follow apply",
          context: { db: this.path },
          hint: "the primary was rebuilt with another page size: remove the local database to bootstrap again",
        },
      );
    }
    const page1 = new Uint8Array(ps);
    await this.fh.read(page1, 0, ps, 0);
    const guess = readDbHeader(page1).changeCounter;
    await record.prepare({ oldChangeCounter: guess, newChangeCounter: nextChangeCounter(guess) });
    const t0 = Date.now();
    await this.lock();
    const tLocked = Date.now();
    const jpath = journalPath(this.path);
    let state: "clean" | "journaled" | "dirty" = "clean";
    let stats: ApplyStats;
    try {
      const oldPages = Math.floor((await this.fh.stat()).size / ps);
      checkGrowth(set, oldPages);
      await this.fh.read(page1, 0, ps, 0);
      const oldCounter = readDbHeader(page1).changeCounter;
      const newCounter = nextChangeCounter(oldCounter);
      if (oldCounter !== guess) {
        await record.prepare({ oldChangeCounter: oldCounter, newChangeCounter: newCounter });
      }

      const originals = journalPages(set, oldPages);
      state = "journaled";
      const jw = await JournalWriter.create(jpath, ps, originals.length, oldPages);
      try {
        await this.copyOriginals(originals, jw);
        await jw.finish();
      } catch (e) {
        await jw.abandon();
        throw e;
      }
      await fsyncDir(jpath);
      await onStage?.("journaled");

      state = "dirty";
      const written = await this.writePages(set, page1, newCounter);
      await this.fh.truncate(set.commit * ps);
      await this.fh.sync();
      await onStage?.("written");
      await record.publish();
      await rm(jpath);
      state = "clean";
      stats = {
        lockWaitMs: tLocked - t0,
        lockHeldMs: 0,
        pagesWritten: written,
        pagesJournaled: originals.length,
        changeCounter: newCounter,
      };
    } catch (e) {
      // Nothing written to the database yet: the journal is just an unfinished file.
      if (state === "journaled") await rm(jpath, { force: true }).catch(() => undefined);
      throw e;
    } finally {
      this.unlock(state === "dirty");
    }
    stats.lockHeldMs = Date.now() - tLocked;
    // Making the unlink durable can wait until readers are let back in: if it is lost, the journal rolls
    // the file back to the previous state, which the progress file still names.
    await fsyncDir(jpath);
    return stats;
  }

  private async lock(): Promise<void> {
    try {
      await retryBusy(() => this.conn.exec("BEGIN EXCLUSIVE"), this.lockTimeoutMs);
    } catch (e) {
      throw lockError(this.path, e, this.lockTimeoutMs);
    }
  }

  private unlock(rollBack: boolean): void {
    try {
      this.conn.exec("COMMIT");
    } catch {
      try {
        this.conn.exec("ROLLBACK");
      } catch {}
    }
    if (rollBack) {
      // The journal is hot now; the next read of this connection plays it back before anyone else reads.
      try {
        this.conn.prepare("SELECT count(*) FROM sqlite_master").get();
      } catch {}
    }
  }

  private async copyOriginals(pgnos: number[], jw: JournalWriter): Promise<void> {
    const ps = this.pageSize;
    const buf = new Uint8Array(PAGES_PER_IO * ps);
    let i = 0;
    while (i < pgnos.length) {
      let n = 1;
      while (i + n < pgnos.length && n < PAGES_PER_IO && pgnos[i + n] === pgnos[i]! + n) n++;
      await this.fh.read(buf, 0, n * ps, (pgnos[i]! - 1) * ps);
      for (let k = 0; k < n; k++) await jw.add(pgnos[i + k]!, buf.subarray(k * ps, (k + 1) * ps));
      i += n;
    }
  }

  private async writePages(set: PageSet, page1: Uint8Array, counter: number): Promise<number> {
    const ps = this.pageSize;
    const buf = new Uint8Array(PAGES_PER_IO * ps);
    let wrotePage1 = false;
    for (const run of pageRuns(set, PAGES_PER_IO)) {
      const bytes = run.count * ps;
      const { bytesRead } = await set.source.read(buf, 0, bytes, set.offsets[run.start]!);
      if (bytesRead !== bytes) {
        throw new WalshipError("internal", "staged pages ended early", {
          op: "follow apply",
          context: { db: this.path, pgno: set.pgnos[run.start] },
        });
      }
      const first = set.pgnos[run.start]!;
      if (first === 1) {
        stampPage1(buf.subarray(0, ps), counter, set.commit);
        wrotePage1 = true;
      }
      await this.fh.write(buf, 0, bytes, (first - 1) * ps);
    }
    if (!wrotePage1) {
      stampPage1(page1, counter, set.commit);
      await this.fh.write(page1, 0, ps, 0);
    }
    return set.pgnos.length + (wrotePage1 ? 0 : 1);
  }

  /** Closes the connection; the descriptor stays open for the process (see the file comment). */
  close(): void {
    try {
      this.conn.close();
    } catch {}
  }
}

/** Pages whose originals the journal needs: page 1 (always restamped), overwritten ones, truncated ones. */
function journalPages(set: PageSet, oldPages: number): number[] {
  const lock = lockPgno(set.pageSize);
  const out: number[] = [];
  if (oldPages >= 1) out.push(1);
  for (const p of set.pgnos) if (p > 1 && p <= oldPages) out.push(p);
  const seen = new Set(out);
  for (let p = set.commit + 1; p <= oldPages; p++) if (p !== lock && !seen.has(p)) out.push(p);
  return out.sort((a, b) => a - b);
}

/** A grown database must get every new page; a hole would read as zeros (a corrupt page) to readers. */
function checkGrowth(set: PageSet, oldPages: number): void {
  if (set.commit <= oldPages) return;
  const lock = lockPgno(set.pageSize);
  let expected = set.commit - oldPages;
  if (lock > oldPages && lock <= set.commit) expected--;
  const have = set.pgnos.filter((p) => p > oldPages).length;
  if (have !== expected) {
    // Reported as a gap: the follower answers it by bootstrapping again from the replica.
    throw new WalshipError(
      "replica_gap",
      `the chain grows the database from ${oldPages} to ${set.commit} pages but carries only ${have} of the new pages`,
      {
        op: "follow apply",
        hint: "the replica chain does not fit the local database; it is re-bootstrapped",
      },
    );
  }
}
