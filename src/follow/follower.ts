/**
 * A read replica kept live from a replica: bootstrap (or resume), then poll, stage and apply, forever.
 * Each apply is atomic for readers (local-db.ts) and records its TXID with the change counter it stamped
 * (progress.ts), so a restart after any crash knows exactly which state the file holds.
 *
 * Scratch space, the one-follower-per-database lock and status.json (the last poll's status): scratch.ts.
 */
import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, systemClock } from "../clock.js";
import { writeStatusFile } from "../db/status-file.js";
import { isWalshipError, WalshipError } from "../errors.js";
import { formatTXID } from "../ltx/filename.js";
import { type LtxFileInfo, type ReplicaClient, SNAPSHOT_LEVEL } from "../replica/client.js";
import type { SqliteDriver } from "../sqlite/handle.js";
import { type Image, installImage, restoreImage } from "./bootstrap.js";
import { newestTXID, oldestPendingAt, planCatchUp } from "./chain.js";
import {
  DEFAULT_APPLY_LOCK_TIMEOUT_MS,
  DEFAULT_FOLLOW_INTERVAL_MS,
  FULL_SCAN_INTERVAL_MS,
  MAX_APPLY_BYTES,
  MAX_APPLY_FILES,
  MAX_ERROR_BACKOFF_MS,
} from "./defaults.js";
import type { BootstrapReason, FollowEvent, FollowState, FollowStatus } from "./events.js";
import { type ApplyStage, type CommitInfo, type CommitRecord, LocalDb } from "./local-db.js";
import { type Progress, publishProgress, readProgress, resolveTXID, stageProgress } from "./progress.js";
import { cleanScratch, lockScratch, scratchDir } from "./scratch.js";
import { diffImage, stageChain } from "./stage.js";

export interface FollowerOptions {
  replica: ReplicaClient;
  /** Path of the local read-only copy. */
  local: string;
  intervalMs?: number;
  lockTimeoutMs?: number;
  /** Adopt an existing database that has no progress file: it is rewritten in place from the replica. */
  force?: boolean;
  /** The app's SQLite driver (its better-sqlite3 class), so one SQLite library holds this file's locks. */
  driver?: SqliteDriver;
  clock?: Clock;
  onEvent?: (e: FollowEvent) => void;
  /** Fault injection for crash tests: awaited inside each apply while the lock is held. Not a stable API. */
  onApplyStage?: (stage: ApplyStage) => Promise<void> | void;
}

/** Errors no retry can fix; everything else is reported and retried with backoff. */
const FATAL = new Set(["storage_auth", "permission", "db_invalid", "db_exists", "usage", "config"]);

/** Bootstrap attempts that may fail with "not found" (a race with retention) before it is believed. */
const NOT_FOUND_ATTEMPTS = 3;

function asError(e: unknown, op: string): WalshipError {
  if (e instanceof WalshipError) return e;
  return new WalshipError("internal", e instanceof Error ? e.message : String(e), { op, cause: e });
}

function missing(db: string): boolean {
  return !existsSync(db) || statSync(db).size === 0;
}

export class Follower {
  readonly db: string;
  readonly client: ReplicaClient;
  private readonly intervalMs: number;
  private readonly lockTimeoutMs: number;
  private readonly clock: Clock;
  private readonly scratch: string;
  private readonly abort = new AbortController();
  private local: LocalDb | null = null;
  private unlockScratch: () => void = () => {};
  private loop: Promise<void> = Promise.resolve();
  private state: FollowState = "starting";
  private txid = 0n;
  private replicaTXID = 0n;
  private pendingBootstrap: BootstrapReason | null = null;
  private pendingSince: number | null = null;
  private lastFullScanAt: number | null = null;
  private lastPollAt: number | null = null;
  private lastApplyAt: number | null = null;
  private lastApplyLagMs: number | null = null;
  private counts = { polls: 0, applies: 0, bootstraps: 0, errors: 0 };
  private lastError: string | null = null;
  private fatalError: WalshipError | null = null;

  constructor(private readonly o: FollowerOptions) {
    this.db = o.local;
    this.client = o.replica;
    this.intervalMs = o.intervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS;
    this.lockTimeoutMs = o.lockTimeoutMs ?? DEFAULT_APPLY_LOCK_TIMEOUT_MS;
    this.clock = o.clock ?? systemClock;
    this.scratch = scratchDir(o.local);
  }

  /** The error that stopped the loop, if one did. */
  get failure(): WalshipError | null {
    return this.fatalError;
  }

  /** Settles when the poll loop stops (close(), or a fatal error: see `failure`). */
  get done(): Promise<void> {
    return this.loop;
  }

  /** Bootstraps or resumes; resolves once the local database is readable, then keeps following. */
  async start(signal?: AbortSignal): Promise<void> {
    if (signal) {
      if (signal.aborted) this.abort.abort();
      else signal.addEventListener("abort", () => this.abort.abort(), { once: true });
    }
    this.unlockScratch = await lockScratch(this.scratch, this.db);
    try {
      await cleanScratch(this.scratch);
      if (missing(this.db)) await this.bootstrapMissing();
      this.local = await LocalDb.open(this.db, { lockTimeoutMs: this.lockTimeoutMs, driver: this.o.driver });
      const progress = await readProgress(this.db);
      const txid = resolveTXID(progress, (await this.local.header()).changeCounter);
      // TXIDs mean nothing across replicas: following another one starts with a (diff-sized) bootstrap.
      const sameReplica = progress?.replica === this.client.location;
      if (txid !== null && sameReplica) {
        this.txid = txid;
      } else if (progress || this.o.force) {
        this.pendingBootstrap = "unknown";
      } else {
        throw new WalshipError("db_exists", `${this.db} exists but was not written by a follower`, {
          op: "follow start",
          context: { db: this.db },
          hint: "follow into a new path, or pass --force to rewrite it in place from the replica",
        });
      }
      this.state = "following";
    } catch (e) {
      this.local?.close();
      this.local = null;
      this.unlockScratch();
      throw e;
    }
    this.loop = this.run();
  }

  /** Stops polling (an apply in progress completes first) and releases the database. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.abort.abort();
    await this.loop;
    this.local?.close();
    this.local = null;
    this.state = "closed";
    await writeStatusFile(this.scratch, this.status(), this.clock.now());
    this.unlockScratch();
  }

  status(): FollowStatus {
    const now = this.clock.now();
    const since = this.txid < this.replicaTXID ? (this.pendingSince ?? this.lastPollAt) : this.lastPollAt;
    return {
      db: this.db,
      replica: this.client.location,
      state: this.state,
      txid: formatTXID(this.txid),
      replicaTXID: formatTXID(this.replicaTXID),
      lagSeconds: since === null ? 0 : Math.max(0, now - since) / 1000,
      lastPollAt: this.lastPollAt,
      lastApplyAt: this.lastApplyAt,
      lastApplyLagMs: this.lastApplyLagMs,
      ...this.counts,
      lastError: this.lastError,
    };
  }

  private emit(e: FollowEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      // A listener's bug must not stop replication.
    }
  }

  private async bootstrapMissing(): Promise<void> {
    for (let failures = 0; ; ) {
      if (this.abort.signal.aborted) throw new WalshipError("aborted", "operation aborted", { op: "follow" });
      const dir = await mkdtemp(join(this.scratch, "bootstrap-"));
      try {
        const t0 = this.clock.now();
        const image = await restoreImage(this.client, dir, this.abort.signal);
        if (image) {
          await installImage(image, this.db, this.client.location);
          this.txid = image.txid;
          this.bootstrapped("missing", image, image.pages, t0);
          return;
        }
        this.state = "waiting";
        this.emit({ type: "waiting", db: this.db, reason: `no backup in ${this.client.location} yet` });
        failures = 0;
      } catch (e) {
        const err = asError(e, "follow bootstrap");
        // A missing bucket or path must fail fast; once or twice it may be a file compacted mid-restore.
        const notFound = err.code === "replica_not_found" && failures >= NOT_FOUND_ATTEMPTS - 1;
        if (this.abort.signal.aborted || FATAL.has(err.code) || notFound) throw err;
        this.failed(err);
        failures++;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      await this.clock.sleep(this.backoff(failures), this.abort.signal);
    }
  }

  private backoff(failures: number): number {
    return failures === 0 ? this.intervalMs : Math.min(MAX_ERROR_BACKOFF_MS, this.intervalMs * 2 ** failures);
  }

  private failed(err: WalshipError): void {
    this.counts.errors++;
    this.lastError = err.oneLine();
    this.emit({ type: "error", db: this.db, error: err, fatal: FATAL.has(err.code) });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const started = this.clock.now();
      let more = false;
      try {
        more = await this.poll();
        failures = 0;
      } catch (e) {
        if (this.abort.signal.aborted) break;
        const err = asError(e, "follow poll");
        this.failed(err);
        if (FATAL.has(err.code)) {
          this.fatalError = err;
          this.state = "failed";
          break;
        }
        failures++;
      }
      // Polls start an interval apart (not an interval after the last one ended): lag stays near one interval.
      const wait = failures === 0 ? this.intervalMs - (this.clock.now() - started) : this.backoff(failures);
      if (!more && wait > 0) await this.clock.sleep(wait, this.abort.signal);
    }
  }

  /** One poll; true when more is waiting on the replica (catch-up continues without sleeping). */
  private async poll(): Promise<boolean> {
    const signal = this.abort.signal;
    if (this.pendingBootstrap) return this.rebootstrap(this.pendingBootstrap);
    const now = this.clock.now();
    const levels = new Map<number, LtxFileInfo[]>();
    const l0 = await this.client.list(0, { fromTXID: this.txid + 1n, signal });
    levels.set(0, l0);
    const continues = l0.length > 0 && l0[0]!.minTXID <= this.txid + 1n;
    const scan =
      !continues &&
      (l0.length > 0 || this.lastFullScanAt === null || now - this.lastFullScanAt >= FULL_SCAN_INTERVAL_MS);
    if (scan) {
      const all = await Promise.all(
        Array.from({ length: SNAPSHOT_LEVEL + 1 }, (_, level) => this.client.list(level, { signal })),
      );
      for (const [level, files] of all.entries()) levels.set(level, files);
      this.lastFullScanAt = now;
    }
    const newest = newestTXID(levels);
    this.replicaTXID = scan || newest > this.replicaTXID ? newest : this.replicaTXID;
    this.lastPollAt = now;
    this.counts.polls++;
    let more = false;
    const plan = planCatchUp(levels, this.txid, { maxFiles: MAX_APPLY_FILES, maxBytes: MAX_APPLY_BYTES });
    if (plan.files.length > 0) {
      try {
        await this.applyChain(plan.files, now);
        more = this.txid < this.replicaTXID;
      } catch (e) {
        if (isWalshipError(e, "replica_gap")) {
          this.pendingBootstrap = "gap";
        } else if (isWalshipError(e, "replica_not_found")) {
          // Compacted away between the listing and the download: list every level again right away.
          this.lastFullScanAt = null;
        } else {
          throw e;
        }
        more = true;
      }
    } else if (scan && newest > this.txid) {
      more = await this.rebootstrap("gap");
    } else if (scan && newest > 0n && newest < this.txid) {
      more = await this.rebootstrap("rewound");
    }
    this.pendingSince = this.txid < this.replicaTXID ? oldestPendingAt(levels, this.txid) : null;
    const status = this.status();
    this.emit({ type: "poll", db: this.db, status });
    // For `walship status` and scripts that watch the follower from outside.
    await writeStatusFile(this.scratch, status, this.clock.now());
    return more;
  }

  private async applyChain(files: LtxFileInfo[], polledAt: number): Promise<void> {
    const local = this.local!;
    const dir = await mkdtemp(join(this.scratch, "apply-"));
    try {
      const staged = await stageChain(this.client, files, dir, this.abort.signal);
      const fetchMs = this.clock.now() - polledAt;
      try {
        const from = this.txid;
        const to = staged.header.maxTXID;
        const timestamp = Number(staged.header.timestamp);
        const stats = await local.apply(
          staged.set,
          this.record((c) => ({
            txid: to,
            changeCounter: c.newChangeCounter,
            pageSize: local.pageSize,
            previous: { txid: from, changeCounter: c.oldChangeCounter },
            replica: this.client.location,
            timestamp,
          })),
          this.o.onApplyStage,
        );
        this.txid = to;
        const at = this.clock.now();
        this.counts.applies++;
        this.lastApplyAt = at;
        this.lastApplyLagMs = at - timestamp;
        this.emit({
          type: "applied",
          db: this.db,
          fromTXID: from,
          txid: to,
          files: files.length,
          pages: stats.pagesWritten,
          lagMs: at - timestamp,
          fetchMs,
          lockWaitMs: stats.lockWaitMs,
          lockHeldMs: stats.lockHeldMs,
        });
      } finally {
        await staged.set.source.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Rewrites the local database in place to the replica's newest state; false when the replica is empty. */
  private async rebootstrap(reason: BootstrapReason): Promise<boolean> {
    const local = this.local!;
    const known = reason !== "unknown";
    const dir = await mkdtemp(join(this.scratch, "bootstrap-"));
    try {
      const t0 = this.clock.now();
      const image = await restoreImage(this.client, dir, this.abort.signal);
      if (!image) {
        this.pendingBootstrap = reason;
        this.emit({ type: "waiting", db: this.db, reason: `no backup in ${this.client.location} yet` });
        return false;
      }
      const set = await diffImage(local, image.path);
      try {
        const from = this.txid;
        const stats = await local.apply(
          set,
          this.record((c) => ({
            txid: image.txid,
            changeCounter: c.newChangeCounter,
            pageSize: local.pageSize,
            previous: known ? { txid: from, changeCounter: c.oldChangeCounter } : null,
            replica: this.client.location,
            timestamp: image.timestamp,
          })),
          this.o.onApplyStage,
        );
        this.txid = image.txid;
        this.pendingBootstrap = null;
        this.bootstrapped(reason, image, stats.pagesWritten, t0);
      } finally {
        await set.source.close();
      }
      this.replicaTXID =
        image.txid > this.replicaTXID || reason === "rewound" ? image.txid : this.replicaTXID;
      return true;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private record(progress: (c: CommitInfo) => Progress): CommitRecord {
    return {
      prepare: (c) => stageProgress(this.db, progress(c)),
      publish: () => publishProgress(this.db),
    };
  }

  private bootstrapped(reason: BootstrapReason, image: Image, pagesWritten: number, t0: number): void {
    this.counts.bootstraps++;
    const at = this.clock.now();
    this.lastApplyAt = at;
    this.emit({
      type: "bootstrapped",
      db: this.db,
      txid: image.txid,
      reason,
      files: image.files.length,
      bytes: image.bytes,
      pagesWritten,
      durationMs: at - t0,
    });
  }
}
