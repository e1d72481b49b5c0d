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
import { openSync, readSync, statSync } from "node:fs";
import { WalshipError } from "../errors.js";
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
    try {
      statSync(path);
    } catch {
      throw new WalshipError("db_missing", `database not found: ${path}`, {
        op: "open database",
        context: { db: path },
        hint: "check the path, or restore it first with `walship restore ... -o <path>`",
      });
    }
    this.fd = sharedDbFd(path);
    const head = Buffer.alloc(100);
    const n = readSync(this.fd, head, 0, 100, 0);
    if (n > 0 && (n < 100 || head.toString("latin1", 0, 16) !== SQLITE_HEADER)) {
      throw new WalshipError("db_invalid", `not a SQLite database: ${path}`, {
        op: "open database",
        context: { db: path },
        hint: "point walship at a SQLite database file",
      });
    }
    try {
      this.reader = openSqlite(path, opts);
      this.writer = openSqlite(path, opts);
    } catch (e) {
      throw new WalshipError("db_invalid", `cannot open database ${path}: ${(e as Error).message}`, {
        op: "open database",
        context: { db: path },
        cause: e,
      });
    }
    for (const c of [this.reader, this.writer]) {
      // walship owns checkpoints: an autocheckpoint on its own connections would bypass the barrier.
      c.exec("PRAGMA wal_autocheckpoint = 0");
    }
    const mode = String(pragmaValue(this.reader, "journal_mode")).toLowerCase();
    if (mode !== "wal") {
      this.closeQuietly();
      throw new WalshipError("db_invalid", `database is not in WAL mode (journal_mode=${mode}): ${path}`, {
        op: "open database",
        context: { db: path },
        hint: "enable it once with: sqlite3 <db> 'PRAGMA journal_mode=WAL'",
      });
    }
    this.pageSize = Number(pragmaValue(this.reader, "page_size"));
    // Same names as Litestream's, so switching tools leaves one set of helper tables.
    this.writer.exec(
      "CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER); CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER);",
    );
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
    this.reader.prepare("SELECT COUNT(1) FROM _litestream_seq").get();
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
