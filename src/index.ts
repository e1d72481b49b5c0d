/**
 * walship's public library API. Everything a Node app needs to replicate its SQLite database and restore
 * it on boot; the CLI is built on the same calls.
 */
import type { ReplicaClient } from "./replica/client.js";
import { parseReplicaUrl } from "./replica/url.js";
import {
  type ReplicaEvent,
  Replicator,
  type ReplicatorOptions,
  type ReplicatorStatus,
} from "./replicator.js";
import { type RestoreOptions, type RestoreResult, restore as restoreImpl } from "./restore/restore.js";
import type { SqliteDriver } from "./sqlite/handle.js";

export { type ErrorCode, EXIT_CODES, WalshipError } from "./errors.js";
export type { LtxFileInfo, ReplicaClient, RequestCounts } from "./replica/client.js";
export type { ReplicaEvent, ReplicatorStatus } from "./replicator.js";
export type { RestoreResult } from "./restore/restore.js";

type ReplicaRef = string | ReplicaClient;

function client(ref: ReplicaRef, env?: NodeJS.ProcessEnv): ReplicaClient {
  return typeof ref === "string" ? parseReplicaUrl(ref, { env: env ?? process.env }) : ref;
}

/** The part of a better-sqlite3 Database walship reads: its path and its class. */
export interface AppDatabase {
  readonly name: string;
  readonly constructor: unknown;
}

export interface ReplicateOptions extends Omit<ReplicatorOptions, "replica" | "db" | "driver"> {
  /**
   * Path of the SQLite database (WAL mode), or the app's own better-sqlite3 Database: walship then opens
   * its connections with the app's copy of the driver, so the process has one SQLite library.
   */
  db: string | AppDatabase;
  /** Replica URL (`s3://bucket/path?...`, `file:///dir`, or a directory path) or a ReplicaClient. */
  replica: ReplicaRef;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface Replication {
  /** Resolves with the TXID once everything committed before the call is on the replica. */
  sync(opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<bigint>;
  status(): ReplicatorStatus;
  /** Takes a level-9 snapshot now. */
  snapshot(opts?: { signal?: AbortSignal }): Promise<{ txid: bigint; bytes: number }>;
  /** Stops capture and uploads what is staged; true when the replica has everything. */
  close(opts?: { deadlineMs?: number }): Promise<boolean>;
}

/** Starts replicating one database; resolves once the first capture (and, if needed, snapshot) is done. */
export async function replicate(opts: ReplicateOptions): Promise<Replication> {
  const c = client(opts.replica, opts.env);
  const path = typeof opts.db === "string" ? opts.db : opts.db.name;
  const driver = typeof opts.db === "string" ? undefined : (opts.db.constructor as SqliteDriver);
  const r = new Replicator({ ...opts, db: path, driver, replica: c });
  await r.start(opts.signal);
  const onAbort = () => void r.close();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  return {
    sync: (o) => r.sync(o),
    status: () => r.status(),
    snapshot: (o) => r.snapshot(o?.signal),
    close: async (o) => {
      opts.signal?.removeEventListener("abort", onAbort);
      const ok = await r.close(o);
      if (typeof opts.replica === "string") await c.close();
      return ok;
    },
  };
}

export interface LibraryRestoreOptions extends RestoreOptions {
  replica: ReplicaRef;
  env?: NodeJS.ProcessEnv;
}

/** Restores a database from a replica (latest, or `txid` / `timestamp`). */
export async function restore(opts: LibraryRestoreOptions): Promise<RestoreResult> {
  const c = client(opts.replica, opts.env);
  try {
    return await restoreImpl(c, opts);
  } finally {
    if (typeof opts.replica === "string") await c.close();
  }
}

/** For app boot: restores only when the database is missing and the replica has a backup. */
export function restoreIfMissing(
  opts: Omit<LibraryRestoreOptions, "ifDbNotExists" | "ifReplicaExists">,
): Promise<RestoreResult> {
  return restore({ ...opts, ifDbNotExists: true, ifReplicaExists: true });
}

export type { ReplicaEvent as Event };
