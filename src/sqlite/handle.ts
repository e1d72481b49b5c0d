/**
 * The few SQLite calls walship needs, as a structural type. better-sqlite3's Database satisfies it as is,
 * so the library can run on the app's own handle; another driver needs only a thin adapter.
 */
import Database from "better-sqlite3";

export interface SqliteStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

export interface SqliteHandle {
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement;
  close(): unknown;
  readonly inTransaction: boolean;
}

/**
 * A constructor with better-sqlite3's signature. Passing the app's own (`appDb.constructor`) keeps one
 * SQLite library in the process: two copies would each keep their own POSIX lock bookkeeping and could
 * drop each other's locks.
 */
export type SqliteDriver = new (
  path: string,
  opts: { fileMustExist?: boolean; readonly?: boolean; timeout?: number },
) => SqliteHandle;

export interface OpenOptions {
  /** How long SQLite waits for a lock before SQLITE_BUSY, in ms. */
  busyTimeoutMs: number;
  readonly?: boolean;
  driver?: SqliteDriver;
}

/** Opens a connection through better-sqlite3 (the bundled driver). */
export function openSqlite(path: string, opts: OpenOptions): SqliteHandle {
  const db = new Database(path, {
    fileMustExist: true,
    readonly: opts.readonly ?? false,
    timeout: opts.busyTimeoutMs,
  });
  return db as unknown as SqliteHandle;
}

export function pragmaValue(db: SqliteHandle, pragma: string): unknown {
  const row = db.prepare(`PRAGMA ${pragma}`).get() as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return Object.values(row)[0];
}
