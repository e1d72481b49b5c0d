/**
 * walship's own hold on a watched database: two SQLite connections and one long-lived file descriptor.
 *
 * - `reader` keeps a read transaction open. While it is open no other connection can restart or truncate
 *   the WAL past what walship has read (a read mark pins it), and no checkpoint can copy frames newer than
 *   that mark into the database file. It is released only inside walship's own checkpoint, under the
 *   barrier.
 * - `writer` takes SQLite's write lock (BEGIN IMMEDIATE) as the checkpoint barrier, so no commit can slip
 *   in between walship's last read of the WAL and its checkpoint.
 * - The database file is read directly for pages that are not in the WAL. The descriptor is opened once per
 *   process and never closed: closing any descriptor of a file drops every POSIX lock the process holds on
 *   it, which would silently break the locks of the app's own SQLite connections in library mode.
 */
import { openSync, readSync, type Stats, statfsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { fsError, WalshipError } from "../errors.js";
import { openSqlite, pragmaValue, type SqliteDriver, type SqliteHandle } from "../sqlite/handle.js";

const dbFds = new Map<string, number>();

function sharedDbFd(path: string): number {
  let fd = dbFds.get(path);
  if (fd === undefined) {
    fd = openSync(path, "r");
    dbFds.set(path, fd);
  }
  return fd;
}

const SQLITE_HEADER = "SQLite format 3\0";

/**
 * Page cache of walship's own connections, in pages: none. They read one tiny table and run checkpoints
 * (which bypass the page cache); every page that is shipped is read from the files directly. A zero cache
 * also skips SQLite's up-front page-cache allocation, so each database costs about 150 KiB less native
 * memory than with better-sqlite3's 16 MB default (measured in docs/performance.md).
 */
const WALSHIP_CACHE_PAGES = 0;

export interface ConnectionOptions {
  busyTimeoutMs: number;
  driver?: SqliteDriver;
}

export class DbConnection {
  readonly path: string;
  readonly reader: SqliteHandle;
  readonly writer: SqliteHandle;
  readonly pageSize: number;
  readonly fd: number;
  private readHeld = false;

  constructor(path: string, opts: ConnectionOptions) {
    this.path = path;
    let st: Stats;
    try {
      st = statSync(path);
    } catch {
      throw new WalshipError("db_missing", `database not found: ${path}`, {
        op: "open database",
        context: { db: path },
        hint: "check the path, or restore it first with `walship restore ... -o <path>`",
      });
    }
    if (!st.isFile()) {
      throw new WalshipError(
        "db_invalid",
        `not a database file: ${path} is a ${st.isDirectory() ? "directory" : "special file"}`,
        {
          op: "open database",
          context: { db: path },
          hint: "point walship at the SQLite database file itself",
        },
      );
    }
    try {
      this.fd = sharedDbFd(path);
    } catch (e) {
      throw fsError(e, "open database", path);
    }
    const head = Buffer.alloc(100);
    const n = readSync(this.fd, head, 0, 100, 0);
    if (n > 0 && (n < 100 || head.toString("latin1", 0, 16) !== SQLITE_HEADER)) {
      throw new WalshipError("db_invalid", `not a SQLite database: ${path}`, {
        op: "open database",
        context: { db: path },
        hint: "point walship at a SQLite database file",
      });
    }
    let mode: string;
    try {
      this.reader = openSqlite(path, opts);
      this.writer = openSqlite(path, opts);
      for (const c of [this.reader, this.writer]) {
        // walship owns checkpoints: an autocheckpoint on its own connections would bypass the barrier.
        c.exec("PRAGMA wal_autocheckpoint = 0");
        c.exec(`PRAGMA cache_size = ${WALSHIP_CACHE_PAGES}`);
      }
      mode = String(pragmaValue(this.reader, "journal_mode")).toLowerCase();
    } catch (e) {
      this.closeQuietly();
      throw sqliteError(e, "open database", path);
    }
    if (mode !== "wal") {
      this.closeQuietly();
      throw new WalshipError("db_invalid", `database is not in WAL mode (journal_mode=${mode}): ${path}`, {
        op: "open database",
        context: { db: path },
        hint: "enable it once with: sqlite3 <db> 'PRAGMA journal_mode=WAL'",
      });
    }
    this.pageSize = Number(pragmaValue(this.reader, "page_size"));
  }

  /**
   * The helper tables, named as Litestream's so switching tools leaves one set. Created once the replica
   * has been reached (Db.resume), not on open: a watch that fails at start must leave the database as it
   * found it.
   */
  ensureHelperTables(): void {
    try {
      this.writer.exec(
        "CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER); CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER);",
      );
    } catch (e) {
      throw sqliteError(e, "prepare database", this.path);
    }
  }

  /** Commit a tiny write so the WAL has a header and a frame (read marks above 0 then pin it). */
  bumpSeq(): void {
    this.writer
      .prepare(
        "INSERT INTO _litestream_seq (id, seq) VALUES (1, 1) ON CONFLICT(id) DO UPDATE SET seq = seq + 1",
      )
      .run();
  }

  beginRead(): void {
    if (this.readHeld) return;
    this.reader.exec("BEGIN");
    try {
      this.reader.prepare("SELECT COUNT(1) FROM _litestream_seq").get();
    } catch (e) {
      // A BEGIN left open would make every later beginRead fail ("transaction within a transaction").
      if (this.reader.inTransaction) this.reader.exec("ROLLBACK");
      throw e;
    }
    this.readHeld = true;
  }

  endRead(): void {
    if (!this.readHeld) return;
    this.reader.exec("ROLLBACK");
    this.readHeld = false;
  }

  get holdsRead(): boolean {
    return this.readHeld;
  }

  /** Take SQLite's write lock; app writers wait (their busy_timeout) until releaseBarrier. */
  takeBarrier(): void {
    this.writer.exec("BEGIN IMMEDIATE");
  }

  releaseBarrier(): void {
    if (this.writer.inTransaction) this.writer.exec("ROLLBACK");
  }

  /** Runs a checkpoint on the reader connection (which must not hold its read transaction). */
  checkpoint(mode: "PASSIVE" | "TRUNCATE"): { busy: number; log: number; checkpointed: number } {
    const row = this.reader.prepare(`PRAGMA wal_checkpoint(${mode})`).get() as {
      busy: number;
      log: number;
      checkpointed: number;
    };
    return row;
  }

  /** Size in pages of the database file itself (what a WAL-less reader would see). */
  fileCommit(): number {
    return Math.floor(statSync(this.path).size / this.pageSize);
  }

  readDbPage(pgno: number, into: Uint8Array): Uint8Array {
    const n = readSync(this.fd, into, 0, this.pageSize, (pgno - 1) * this.pageSize);
    if (n < this.pageSize) into.fill(0, n);
    return into;
  }

  close(): void {
    this.closeQuietly();
  }

  private closeQuietly(): void {
    try {
      this.endRead();
    } catch {}
    try {
      this.releaseBarrier();
    } catch {}
    try {
      this.reader?.close();
    } catch {}
    try {
      this.writer?.close();
    } catch {}
  }
}

/** A SQLite failure while opening or preparing the database, as a typed error naming the path and fix. */
function sqliteError(e: unknown, op: string, path: string): WalshipError {
  if (e instanceof WalshipError) return e;
  const code = String((e as { code?: unknown })?.code ?? "");
  const msg = e instanceof Error ? e.message : String(e);
  const context = { db: path, sqlite: code };
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new WalshipError("db_locked", `database ${path} is locked by another process (${msg})`, {
      op,
      context,
      hint: "a connection holds it exclusively (PRAGMA locking_mode=EXCLUSIVE or a long write); walship needs shared access: stop it or use locking_mode=NORMAL, or raise --busy-timeout",
      retryable: true,
      cause: e,
    });
  }
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code === "SQLITE_PERM") {
    return new WalshipError("permission", `cannot write database ${path} (${msg})`, {
      op,
      context,
      hint: "walship needs read-write access to the database, its directory and its -wal/-shm files (it checkpoints and keeps two helper tables): check owner and mode",
      cause: e,
    });
  }
  if (code === "SQLITE_FULL" || (code.startsWith("SQLITE_IOERR") && filesystemFull(path))) {
    return new WalshipError("disk_full", `disk full writing database ${path}`, {
      op,
      context,
      hint: "free space on the database's filesystem",
      retryable: true,
      cause: e,
    });
  }
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return new WalshipError("db_invalid", `cannot open database ${path}: ${msg}`, {
      op,
      context,
      hint: "the file is damaged or encrypted: point walship at a plain SQLite database, or restore this one from its replica",
      cause: e,
    });
  }
  return new WalshipError("db_invalid", `cannot open database ${path}: ${msg}`, {
    op,
    context,
    hint: "check that the file is a SQLite database this SQLite can open",
    cause: e,
  });
}

/** SQLite reports a full disk while creating -wal/-shm as a plain I/O error; the filesystem tells. */
function filesystemFull(path: string): boolean {
  try {
    return statfsSync(dirname(path)).bavail === 0;
  } catch {
    return false;
  }
}
