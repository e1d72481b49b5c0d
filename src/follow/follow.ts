/**
 * The library entry point for read replicas: `follow()` keeps a local SQLite file a live, read-only copy
 * of a replica. Open it with any SQLite driver (rollback-journal mode is set in its header); queries see
 * whole transactions of the primary, at most a retryable SQLITE_BUSY while an apply holds the lock.
 *
 * In the follower's own process, read the file only through SQLite, and through the same SQLite library
 * (pass `driver`): opening and closing the file any other way drops this process's POSIX locks on it.
 *
 * Readers should open the file read-write (they never write) and after the follower has bootstrapped it:
 * after a follower crash mid-apply the first connection rolls SQLite's hot journal back, which a read-only
 * connection cannot do (SQLITE_READONLY_ROLLBACK until a read-write one or the follower's restart does),
 * and a connection opened before the bootstrap keeps the empty file it created. Do not change the
 * journal mode of the file.
 */
import type { ReplicaClient } from "../replica/client.js";
import { parseReplicaUrl } from "../replica/url.js";
import type { SqliteDriver } from "../sqlite/handle.js";
import type { FollowEvent, FollowStatus } from "./events.js";
import { Follower } from "./follower.js";

export type { BootstrapReason, FollowEvent, FollowState, FollowStatus } from "./events.js";

export interface FollowOptions {
  /** Replica URL (`s3://bucket/path?...`, `file:///dir`, or a directory) or a ReplicaClient. */
  replica: string | ReplicaClient;
  /** Path of the local copy; bootstrapped from the replica when missing. */
  local: string;
  /** Poll interval in ms (default 1000). */
  intervalMs?: number;
  /** How long an apply waits for readers before retrying at the next poll, in ms (default 5000). */
  lockTimeoutMs?: number;
  /** Adopt an existing database without a progress file by rewriting it in place from the replica. */
  force?: boolean;
  /** Stops following when it fires (like close()). */
  signal?: AbortSignal;
  onEvent?: (e: FollowEvent) => void;
  env?: NodeJS.ProcessEnv;
  /** The app's better-sqlite3 class (`appDb.constructor`), so one SQLite library holds the file's locks. */
  driver?: SqliteDriver;
}

export interface FollowHandle {
  /** TXIDs, lag and health now. */
  status(): FollowStatus;
  /** Stops polling after any apply in progress; the local database stays as it is, ready to resume. */
  close(): Promise<void>;
}

/** Resolves once the local database is readable (bootstrapped or resumed); following continues behind. */
export async function follow(opts: FollowOptions): Promise<FollowHandle> {
  const owned = typeof opts.replica === "string";
  const client =
    typeof opts.replica === "string"
      ? parseReplicaUrl(opts.replica, { env: opts.env ?? process.env })
      : opts.replica;
  const f = new Follower({
    replica: client,
    local: opts.local,
    intervalMs: opts.intervalMs,
    lockTimeoutMs: opts.lockTimeoutMs,
    force: opts.force,
    driver: opts.driver,
    onEvent: opts.onEvent,
  });
  try {
    await f.start(opts.signal);
  } catch (e) {
    if (owned) await client.close();
    throw e;
  }
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      await f.close();
      if (owned) await client.close();
    })();
    return closing;
  };
  opts.signal?.addEventListener("abort", () => void close(), { once: true });
  return { status: () => f.status(), close };
}
