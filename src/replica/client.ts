/**
 * The storage seam. Every backend (a local directory, S3 and its compatibles) is a file that satisfies
 * ReplicaClient; restore planning, compaction and page fetches are functions over it.
 *
 * Contract (checked by test/conformance/replica-client.suite.ts against every backend):
 * - Files are addressed by (level, minTXID, maxTXID). Levels 0..9; 9 holds snapshots.
 * - list(level) returns every LTX file of that level whose minTXID >= opts.fromTXID (default 0), sorted by
 *   minTXID ascending, then maxTXID ascending. Objects whose names do not match the LTX file-name pattern
 *   (including temporary files) are ignored. A missing level or an empty replica is an empty list, not an
 *   error.
 * - open(level, min, max, {offset, length}) returns the bytes [offset, offset+length) of a file
 *   (length undefined = to the end). A missing file fails with code "replica_not_found". Reading a range
 *   past the end returns what exists.
 * - write(level, min, max, data, {timestamp}) stores a whole file atomically: readers see either the whole
 *   file or no file, never a prefix. Writing an existing name replaces it. The timestamp (ms since the
 *   epoch) is stored as metadata (S3: x-amz-meta-litestream-timestamp, RFC 3339 nano; file: mtime) and
 *   returned by list as `createdAt`.
 * - delete(files) removes the named files; missing files are not an error. Backends batch internally.
 * - Every call takes an optional AbortSignal and fails with code "aborted" when it fires.
 * - Errors are WalshipError with a code: "storage_auth" (credentials rejected, never retryable),
 *   "replica_not_found" (bucket/path/file missing), "storage_connection" / "storage_throttled"
 *   (retryable), "storage" (other).
 * - Counters: every request made is counted by kind (PUT, GET, LIST, DELETE, HEAD) in `requests`.
 */

export interface LtxFileInfo {
  level: number;
  minTXID: bigint;
  maxTXID: bigint;
  /** Size in bytes. */
  size: number;
  /** Creation time in ms since the epoch: the LTX timestamp metadata when known, else LastModified/mtime. */
  createdAt: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  /** Only files whose minTXID >= fromTXID. */
  fromTXID?: bigint;
  /**
   * When true the backend must return the LTX header timestamp as createdAt even if that costs
   * extra requests (S3: HEAD per object); otherwise LastModified is acceptable.
   */
  exactTimestamps?: boolean;
}

export interface OpenOptions extends CallOptions {
  offset?: number;
  length?: number;
}

export interface WriteOptions extends CallOptions {
  /** LTX header timestamp in ms since the epoch. */
  timestamp: number;
}

/**
 * A whole file in memory, or a stream of chunks (for large snapshots and compactions, so a file never
 * has to be held in memory; S3 uploads a stream larger than one part with multipart).
 */
export type WriteBody = Uint8Array | AsyncIterable<Uint8Array>;

export type RequestKind = "PUT" | "GET" | "LIST" | "DELETE" | "HEAD";

export type RequestCounts = Record<RequestKind, number>;

export function emptyRequestCounts(): RequestCounts {
  return { PUT: 0, GET: 0, LIST: 0, DELETE: 0, HEAD: 0 };
}

export interface FileRef {
  level: number;
  minTXID: bigint;
  maxTXID: bigint;
}

export interface ReplicaClient {
  /** "file" or "s3"; used in metrics labels and messages. */
  readonly type: string;
  /** A printable location with no secrets, e.g. "s3://bucket/path" or "/backups/db". */
  readonly location: string;
  readonly requests: RequestCounts;

  list(level: number, opts?: ListOptions): Promise<LtxFileInfo[]>;
  open(level: number, minTXID: bigint, maxTXID: bigint, opts?: OpenOptions): Promise<Uint8Array>;
  write(level: number, minTXID: bigint, maxTXID: bigint, data: WriteBody, opts: WriteOptions): Promise<void>;
  delete(files: FileRef[], opts?: CallOptions): Promise<void>;
  /** Release sockets and timers. */
  close(): Promise<void>;
}

/** Highest level number; level 9 holds full snapshots named 1-<max>. */
export const SNAPSHOT_LEVEL = 9;
