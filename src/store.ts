/**
 * Many databases in one process: each [[databases]] entry (or command-line pair) is a path or a glob; every
 * matching file gets its own Replicator and replica client. Globs are re-scanned every
 * GLOB_POLL_INTERVAL_MS so a database created while walship runs is picked up, and one that is deleted is
 * let go. A file that matches but is not a WAL-mode database yet (an app creates the file, then sets
 * journal_mode) is retried on each scan instead of failing the process.
 *
 * The store also watches each replicator's status for what it does not report as events (upload failures
 * it retries, the circuit breaker opening) and reports those as events, so metrics and webhooks see them.
 */
import { existsSync } from "node:fs";
import { type Clock, systemClock } from "./clock.js";
import { expandGlob, globRelative } from "./config/glob.js";
import { childReplicaUrl, makeReplicaClient, type S3Settings } from "./config/replica.js";
import type { DatabaseSettings, DatabaseSpec } from "./config/resolve.js";
import { WalshipError } from "./errors.js";
import type { Logger } from "./log.js";
import type { ReplicaClient } from "./replica/client.js";
import { type ReplicaEvent, Replicator, type ReplicatorStatus } from "./replicator.js";
import { startWithRetry } from "./start-retry.js";

/** How often globs are re-scanned for new or deleted databases (ms): a new tenant is protected within seconds. */
export const GLOB_POLL_INTERVAL_MS = 3_000;
/** How often replicator status is compared for upload failures and breaker changes (ms). */
export const STATUS_POLL_INTERVAL_MS = 1_000;
/** Databases started at once: each start lists every level of its replica, so bound the burst of LISTs. */
export const START_CONCURRENCY = 8;
/** Drain deadline (ms) for a database whose file was deleted while running. */
const REMOVED_DRAIN_MS = 2_000;

export type StoreEvent =
  | ReplicaEvent
  | { type: "added"; db: string; replica: string }
  | { type: "removed"; db: string }
  | { type: "waiting"; db: string; error: WalshipError }
  | { type: "upload_failed"; db: string; message: string; consecutive: number }
  | { type: "breaker"; db: string; state: "closed" | "open" | "half-open" };

export type DatabaseState = "starting" | "waiting" | "running" | "stopped";

/** What metrics, health and the dashboard read about one database. */
export interface DatabaseView {
  db: string;
  replica: string;
  replicaType: string;
  state: DatabaseState;
  settings: DatabaseSettings;
  status: ReplicatorStatus | null;
  client: ReplicaClient;
  fatal: WalshipError | null;
  /** Last error of any kind, and when (ms since the epoch). */
  lastError: { message: string; code: string; at: number } | null;
}

interface Managed extends DatabaseView {
  spec: DatabaseSpec;
  replicator: Replicator | null;
  lastUploadErrorAt: number | null;
  breaker: "closed" | "open" | "half-open";
}

export interface StoreOptions {
  databases: DatabaseSpec[];
  s3?: S3Settings;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  onEvent?: (e: StoreEvent) => void;
  globPollIntervalMs?: number;
  /**
   * Listed databases that do not exist (or are not WAL databases) yet are waited for instead of failing
   * start(): with --exec the app creates its database after walship starts.
   */
  waitForListed?: boolean;
  /** How long start-up retries storage errors that retrying can fix (ms; 0: fail at once). */
  startRetryWindowMs?: number;
  clock?: Clock;
}

/** A file that is not (yet) a WAL-mode database: wait for the app to finish creating it. */
function notReadyYet(e: unknown): e is WalshipError {
  return e instanceof WalshipError && ["db_missing", "db_invalid", "db_locked"].includes(e.code);
}

export class Store {
  private readonly dbs = new Map<string, Managed>();
  private readonly opts: StoreOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private scanTimer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> = Promise.resolve();
  private closed = false;
  private started = false;
  private stopScanning = false;

  constructor(opts: StoreOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
  }

  private emit(e: StoreEvent): void {
    const m = this.dbs.get(e.db);
    if (m && e.type === "error") {
      m.lastError = { message: e.error.oneLine(), code: e.error.code, at: this.clock.now() };
      if (e.fatal) m.fatal = e.error;
    }
    this.opts.onEvent?.(e);
  }

  /**
   * Starts every database that exists now. A listed (non-glob) database that cannot start fails the
   * call, as a single `walship watch db url` would (unless waitForListed); glob matches that are not
   * ready are retried on each scan.
   */
  async start(signal?: AbortSignal): Promise<void> {
    await this.scan(signal, true);
    this.started = true;
    if (this.opts.waitForListed || this.opts.databases.some((d) => d.glob)) {
      const every = this.opts.globPollIntervalMs ?? GLOB_POLL_INTERVAL_MS;
      const tick = () => {
        this.scanning = this.scanning
          .then(() => this.scan(signal, false))
          .catch((e) => this.log("error", "scan failed", { error: String(e) }));
        void this.scanning.finally(() => {
          if (!this.stopScanning) {
            this.scanTimer = setTimeout(tick, every);
            this.scanTimer.unref?.();
          }
        });
      };
      this.scanTimer = setTimeout(tick, every);
      this.scanTimer.unref?.();
    }
    this.statusTimer = setInterval(() => this.pollStatus(), STATUS_POLL_INTERVAL_MS);
    this.statusTimer.unref?.();
  }

  private async scan(signal: AbortSignal | undefined, first: boolean): Promise<void> {
    const todo: Array<{ db: string; replica: string; spec: DatabaseSpec }> = [];
    for (const spec of this.opts.databases) {
      if (!spec.glob) {
        if (first || this.dbs.get(spec.path)?.state === "waiting") {
          todo.push({ db: spec.path, replica: spec.replica, spec });
        }
        continue;
      }
      for (const db of await expandGlob(spec.path)) {
        const state = this.dbs.get(db)?.state;
        if (state === undefined || state === "waiting") {
          todo.push({ db, replica: childReplicaUrl(spec.replica, globRelative(spec.path, db)), spec });
        }
      }
      if (!first) await this.dropDeleted(spec);
    }
    let next = 0;
    const worker = async () => {
      while (next < todo.length && !this.closed && !signal?.aborted) {
        const w = todo[next++]!;
        if (this.dbs.get(w.db)?.state === "running") continue;
        await this.startOne(w.db, w.replica, w.spec, first, signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, todo.length) }, worker));
  }

  private async startOne(
    db: string,
    replica: string,
    spec: DatabaseSpec,
    first: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    let m = this.dbs.get(db);
    if (!m) {
      const client = makeReplicaClient(replica, this.opts.s3 ?? {}, this.opts.env ?? process.env);
      m = {
        db,
        replica: client.location,
        replicaType: client.type,
        state: "starting",
        settings: spec.settings,
        status: null,
        client,
        fatal: null,
        lastError: null,
        spec,
        replicator: null,
        lastUploadErrorAt: null,
        breaker: "closed",
      };
      this.dbs.set(db, m);
    }
    const s = spec.settings;
    const make = () =>
      new Replicator({
        db,
        replica: m.client,
        syncIntervalMs: s.syncIntervalMs,
        busyTimeoutMs: s.busyTimeoutMs,
        snapshotIntervalMs: s.snapshotIntervalMs,
        minCheckpointPages: s.minCheckpointPages,
        checkpointIntervalMs: s.checkpointIntervalMs,
        truncatePages: s.truncatePages,
        maintenance: s.maintenance,
        validateIntervalMs: s.validateIntervalMs,
        clock: this.opts.clock,
        onEvent: (e) => this.emit(e),
      });
    let r: Replicator;
    try {
      r = await startWithRetry(make, {
        clock: this.clock,
        signal,
        windowMs: this.opts.startRetryWindowMs,
        // Not fatal: the storage may recover within the window; the database is not replicated meanwhile.
        onRetry: (error) => this.emit({ type: "error", db, error, fatal: false }),
      });
    } catch (e) {
      // Shutdown during start-up is not a failure of this database: it waits, and close()'s final scan
      // starts and drains it, so what was committed before the signal still reaches the replica.
      if (signal?.aborted || this.closed) {
        m.state = "waiting";
        return;
      }
      if ((spec.glob || this.opts.waitForListed) && notReadyYet(e)) {
        if (m.state !== "waiting") this.emit({ type: "waiting", db, error: e });
        m.state = "waiting";
        m.lastError = { message: e.oneLine(), code: e.code, at: this.clock.now() };
        return;
      }
      const err = e instanceof WalshipError ? e : new WalshipError("internal", String(e), { cause: e });
      if (!spec.glob || first) {
        // Reported as an event too, so webhooks and metrics see a start-up failure (bad credentials...).
        this.emit({ type: "error", db, error: err, fatal: true });
        this.dbs.delete(db);
        await m.client.close();
        throw e;
      }
      m.state = "waiting";
      this.emit({ type: "error", db, error: err, fatal: false });
      return;
    }
    if (this.closed) {
      await r.close({ deadlineMs: 0 });
      return;
    }
    m.replicator = r;
    m.state = "running";
    m.lastError = null;
    this.emit({ type: "added", db, replica: m.replica });
  }

  private async dropDeleted(spec: DatabaseSpec): Promise<void> {
    for (const m of [...this.dbs.values()]) {
      if (m.spec !== spec || existsSync(m.db)) continue;
      this.dbs.delete(m.db);
      if (m.replicator) await m.replicator.close({ deadlineMs: REMOVED_DRAIN_MS }).catch(() => false);
      await m.client.close();
      this.emit({ type: "removed", db: m.db });
    }
  }

  private pollStatus(): void {
    for (const m of this.dbs.values()) {
      if (!m.replicator) continue;
      const s = m.replicator.status();
      m.status = s;
      const u = s.upload;
      if (u.lastErrorAt !== null && u.lastErrorAt !== m.lastUploadErrorAt) {
        m.lastUploadErrorAt = u.lastErrorAt;
        m.lastError = { message: u.lastError ?? "upload failed", code: "storage", at: u.lastErrorAt };
        this.emit({
          type: "upload_failed",
          db: m.db,
          message: u.lastError ?? "upload failed",
          consecutive: u.consecutiveFailures,
        });
      }
      if (u.breaker !== m.breaker) {
        m.breaker = u.breaker;
        this.emit({ type: "breaker", db: m.db, state: u.breaker });
      }
    }
  }

  /** A snapshot of every database for metrics, health and the dashboard (status read now). */
  views(): DatabaseView[] {
    return [...this.dbs.values()]
      .map((m) => {
        if (m.replicator) m.status = m.replicator.status();
        const { spec: _s, replicator: _r, lastUploadErrorAt: _l, breaker: _b, ...view } = m;
        return { ...view, fatal: m.replicator?.fatalError ?? m.fatal };
      })
      .sort((a, b) => a.db.localeCompare(b.db));
  }

  replicator(db: string): Replicator | null {
    return this.dbs.get(db)?.replicator ?? null;
  }

  get size(): number {
    return this.dbs.size;
  }

  /** Waits until every running database's committed transactions are on its replica. */
  async sync(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    await Promise.all([...this.dbs.values()].map((m) => m.replicator?.sync(opts)));
  }

  /**
   * Stops scanning, then closes every replicator (final capture and upload within the deadline) and its
   * client. Returns, per database, whether the replica received everything.
   */
  async close(
    opts: { deadlineMs?: number } = {},
  ): Promise<Array<{ db: string; drained: boolean; status: ReplicatorStatus | null }>> {
    if (this.scanTimer) clearTimeout(this.scanTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.stopScanning = true;
    await this.scanning.catch(() => {});
    // Last chance for databases that appeared (or became WAL databases) since the last scan: an --exec
    // child may create its database and exit within one poll interval, and its writes must not be lost.
    const hasGlobs = this.opts.databases.some((d) => d.glob);
    if (this.started && (hasGlobs || [...this.dbs.values()].some((m) => m.state === "waiting"))) {
      await this.scan(undefined, false).catch((e) =>
        this.log("warn", "final scan failed", { error: String(e) }),
      );
    }
    this.closed = true;
    const all = [...this.dbs.values()];
    const results = await Promise.all(
      all.map(async (m) => {
        const drained = m.replicator ? await m.replicator.close(opts) : true;
        const status = m.replicator ? m.replicator.status() : null;
        m.state = "stopped";
        await m.client.close();
        return { db: m.db, drained, status };
      }),
    );
    this.pollStatus();
    return results;
  }
}
