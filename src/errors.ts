/**
 * Typed errors. Every failure walship reports carries a stable string code, the operation that failed,
 * the context needed to act on it (database, level, TXIDs, key), a hint for the user, and whether a retry
 * can help. The CLI maps codes to exit codes (see EXIT_CODES, the README and docs/exit-codes.md).
 */

export type ErrorCode =
  | "usage" // bad flags or arguments
  | "config" // invalid configuration file or value
  | "ltx_invalid" // structurally invalid LTX file (bad magic, field, order)
  | "ltx_checksum" // LTX file checksum mismatch
  | "ltx_unsupported" // LTX format version walship cannot read (v1/v2)
  | "ltx_truncated" // LTX file ended early
  | "lz4" // LZ4 payload could not be decoded
  | "wal_invalid" // WAL header or frame invalid
  | "db_missing" // database file does not exist
  | "db_invalid" // not a SQLite database, or not in WAL mode, or wrong page size
  | "db_locked" // database busy / locked by another process
  | "db_exists" // restore target exists and --force was not given
  | "replica_not_found" // bucket / replica path missing, or no backup files
  | "replica_gap" // non-contiguous TXIDs in the replica
  | "replica_conflict" // another writer holds the replica (lease) or precondition failed
  | "storage_auth" // credentials rejected
  | "storage_connection" // network failure, timeout, 5xx after retries
  | "storage_throttled" // 429 / SlowDown
  | "storage" // any other storage error
  | "disk_full" // ENOSPC / EDQUOT
  | "permission" // EACCES / EPERM on a local path
  | "aborted" // the caller's AbortSignal fired
  | "internal";

export interface ErrorContext {
  db?: string;
  level?: number;
  minTXID?: bigint;
  maxTXID?: bigint;
  txid?: bigint;
  key?: string;
  path?: string;
  field?: string;
  offset?: number;
  [k: string]: unknown;
}

export interface WalshipErrorOptions {
  op?: string;
  context?: ErrorContext;
  hint?: string;
  retryable?: boolean;
  cause?: unknown;
}

export class WalshipError extends Error {
  override readonly name = "WalshipError";
  readonly code: ErrorCode;
  readonly op: string | undefined;
  readonly context: ErrorContext;
  readonly hint: string | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: WalshipErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.op = opts.op;
    this.context = opts.context ?? {};
    this.hint = opts.hint;
    this.retryable = opts.retryable ?? false;
  }

  /** One line for humans: "<op>: <message> (hint: ...)". */
  oneLine(): string {
    const op = this.op ? `${this.op}: ` : "";
    const hint = this.hint ? ` (hint: ${this.hint})` : "";
    return `${op}${this.message}${hint}`;
  }
}

export function isWalshipError(e: unknown, code?: ErrorCode): e is WalshipError {
  return e instanceof WalshipError && (code === undefined || e.code === code);
}

/** Exit codes used consistently by every CLI command. Documented in the README and docs/exit-codes.md. */
export const EXIT_CODES = {
  ok: 0,
  general: 1,
  usage: 2,
  database: 3,
  storageAuth: 4,
  storageConnection: 5,
  notFound: 6,
  corruption: 7,
  interrupted: 130,
} as const;

export function exitCodeFor(e: unknown): number {
  if (!(e instanceof WalshipError)) return EXIT_CODES.general;
  switch (e.code) {
    case "usage":
    case "config":
      return EXIT_CODES.usage;
    case "db_missing":
    case "db_invalid":
    case "db_locked":
    case "db_exists":
      return EXIT_CODES.database;
    case "storage_auth":
      return EXIT_CODES.storageAuth;
    case "storage_connection":
    case "storage_throttled":
      return EXIT_CODES.storageConnection;
    case "replica_not_found":
      return EXIT_CODES.notFound;
    case "ltx_invalid":
    case "ltx_checksum":
    case "ltx_unsupported":
    case "ltx_truncated":
    case "lz4":
    case "wal_invalid":
    case "replica_gap":
      return EXIT_CODES.corruption;
    case "aborted":
      return EXIT_CODES.interrupted;
    default:
      return EXIT_CODES.general;
  }
}

/** Map a Node fs error to a typed error naming the path and the fix. */
export function fsError(e: unknown, op: string, path: string): WalshipError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new WalshipError("disk_full", `disk full writing ${path}`, {
      op,
      context: { path },
      hint: "free space on that filesystem; nothing was lost, walship retries",
      retryable: true,
      cause: e,
    });
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new WalshipError("permission", `permission denied on ${path}`, {
      op,
      context: { path },
      hint: "check the owner and mode of that path",
      cause: e,
    });
  }
  if (code === "ENOTDIR") {
    return new WalshipError("replica_not_found", `not a directory: a part of ${path} is a file`, {
      op,
      context: { path },
      hint: "check the path: it must name a directory (or a file inside one)",
      cause: e,
    });
  }
  if (code === "ENOENT") {
    return new WalshipError("replica_not_found", `no such file or directory: ${path}`, {
      op,
      context: { path },
      cause: e,
    });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new WalshipError("internal", `${msg}`, { op, context: { path }, cause: e });
}

export function abortError(op: string): WalshipError {
  return new WalshipError("aborted", "operation aborted", { op });
}

export function throwIfAborted(signal: AbortSignal | undefined, op: string): void {
  if (signal?.aborted) throw abortError(op);
}
