/**
 * walship's public library API. Everything a Node app needs to replicate its SQLite database and restore
 * it on boot; the CLI is built on the same calls.
 */

import { systemClock } from "./clock.js";
import { WalshipError } from "./errors.js";
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
import { startWithRetry } from "./start-retry.js";

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
  /**
   * How long start-up retries storage errors that retrying can fix, such as throttling or a 5xx
   * (ms; default START_RETRY_WINDOW_MS, 60 s; 0 fails at once). A wrong endpoint or bad credentials fail
   * at once regardless.
   */
  startRetryWindowMs?: number;
}

export interface Replication {
  /** Resolves with the TXID once everything committed before the call is on the replica. */
  sync(opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<bigint>;
  status(): ReplicatorStatus;
  /** Takes a level-9 snapshot now. */
  snapshot(opts?: { signal?: AbortSignal }): Promise<{ txid: bigint; bytes: number }>;
  /** Stops capture and uploads what is staged; true when the replica has everything. */
  close(opts?: { deadlineMs?: number }): Promise<boolean>;
  /** Calls the listener for each event of that type; returns a function that unsubscribes. */
  on<T extends ReplicaEventType>(type: T, listener: (e: ReplicaEventOf<T>) => void): () => void;
  /**
   * Every event as an async iterator (`for await (const e of r.events())`); it ends when the replication
   * is closed or the signal fires. Events are buffered per iterator, so a slow consumer never slows capture.
   */
  events(opts?: { signal?: AbortSignal }): AsyncIterableIterator<ReplicaEvent>;
}

export type ReplicaEventType = ReplicaEvent["type"];
export type ReplicaEventOf<T extends ReplicaEventType> = Extract<ReplicaEvent, { type: T }>;

/** Fans events out to listeners and iterators; a throwing listener cannot break replication. */
class EventHub {
  private readonly listeners = new Set<(e: ReplicaEvent) => void>();
  private readonly ends = new Set<() => void>();
  private closed = false;

  emit(e: ReplicaEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // The app's listener failing is the app's problem; replication goes on.
      }
    }
  }

  on<T extends ReplicaEventType>(type: T, listener: (e: ReplicaEventOf<T>) => void): () => void {
    const l = (e: ReplicaEvent) => {
      if (e.type === type) listener(e as ReplicaEventOf<T>);
    };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  events(signal?: AbortSignal): AsyncIterableIterator<ReplicaEvent> {
    const queue: ReplicaEvent[] = [];
    let wake: (() => void) | null = null;
    let done = this.closed || Boolean(signal?.aborted);
    const listener = (e: ReplicaEvent) => {
      queue.push(e);
      wake?.();
    };
    const end = () => {
      done = true;
      this.listeners.delete(listener);
      this.ends.delete(end);
      signal?.removeEventListener("abort", end);
      wake?.();
    };
    this.listeners.add(listener);
    this.ends.add(end);
    signal?.addEventListener("abort", end, { once: true });
    const it: AsyncIterableIterator<ReplicaEvent> = {
      next: async () => {
        while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
        wake = null;
        const value = queue.shift();
        return value ? { value, done: false } : { value: undefined, done: true };
      },
      return: async () => {
        end();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  close(): void {
    this.closed = true;
    for (const end of [...this.ends]) end();
  }
}

/** Starts replicating one database; resolves once the first capture (and, if needed, snapshot) is done. */
export async function replicate(opts: ReplicateOptions): Promise<Replication> {
  const c = client(opts.replica, opts.env);
  const path = typeof opts.db === "string" ? opts.db : opts.db.name;
  const driver = typeof opts.db === "string" ? undefined : (opts.db.constructor as SqliteDriver);
  if (opts.signal?.aborted)
    throw new WalshipError("aborted", "replicate aborted before it started", { op: "replicate" });
  const hub = new EventHub();
  const { env: _env, signal: _signal, startRetryWindowMs: _window, ...rest } = opts;
  const make = () =>
    new Replicator({
      ...rest,
      // Compaction and retention run by default, as under `walship watch`; `maintenance: false` turns them off.
      maintenance: rest.maintenance ?? {},
      db: path,
      driver,
      replica: c,
      onEvent: (e) => {
        opts.onEvent?.(e);
        hub.emit(e);
      },
    });
  let r: Replicator;
  try {
    r = await startWithRetry(make, {
      clock: opts.clock ?? systemClock,
      signal: opts.signal,
      windowMs: opts.startRetryWindowMs,
      onRetry: (error) => {
        const e: ReplicaEvent = { type: "error", db: path, error, fatal: false };
        opts.onEvent?.(e);
        hub.emit(e);
      },
    });
  } catch (e) {
    if (typeof opts.replica === "string") await c.close();
    throw e;
  }
  let closing: Promise<boolean> | null = null;
  const close = (o?: { deadlineMs?: number }) => {
    closing ??= (async () => {
      opts.signal?.removeEventListener("abort", onAbort);
      try {
        return await r.close(o);
      } finally {
        hub.close();
        if (typeof opts.replica === "string") await c.close();
      }
    })();
    return closing;
  };
  const onAbort = () => void close();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  return {
    sync: (o) => r.sync(o),
    status: () => r.status(),
    snapshot: (o) => r.snapshot(o?.signal),
    close,
    on: (type, listener) => hub.on(type, listener),
    events: (o) => hub.events(o?.signal),
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

export {
  Maintainer,
  type MaintainerOptions,
  type MaintenanceEvent,
  type MaintenancePlan,
  type MaintenanceReport,
} from "./compaction/maintainer.js";
export { loadConfig } from "./config/library.js";
export type { DatabaseSettings, DatabaseSpec, EffectiveConfig } from "./config/resolve.js";
export {
  type BootstrapReason,
  type FollowEvent,
  type FollowHandle,
  type FollowOptions,
  type FollowStatus,
  follow,
} from "./follow/follow.js";
export { START_RETRY_WINDOW_MS } from "./start-retry.js";
export { type DatabaseView, Store, type StoreEvent, type StoreOptions } from "./store.js";
export type { VerifyProblem } from "./verify/problems.js";
export { type VerifyReport, verifyReplica } from "./verify/verify.js";
export type { ReplicaEvent as Event };
