/**
 * Replicates one database: a capture loop (WAL -> staged L0 files, checkpoints), an upload loop (staged
 * files -> replica, in order) and snapshots, with sync() to wait for durability and close() to drain
 * within a deadline.
 */
import { Maintainer } from "./compaction/maintainer.js";
import { withCaptureSlot } from "./db/capture-slots.js";
import { checkpointDue } from "./db/checkpoint-policy.js";
import { Db, type SyncResult } from "./db/db.js";
import { acquireMetaLockIn } from "./db/meta-lock.js";
import { copyFirstFile, encodeSnapshotFile, snapshotPageSize, uploadSnapshot } from "./db/snapshot.js";
import { writeStatusFile } from "./db/status-file.js";
import { WalshipError } from "./errors.js";
import { type Lease, type LeaseKeeper, type LeaseOptions, startLease } from "./lease/index.js";
import { type ReplicaClient, SNAPSHOT_LEVEL } from "./replica/client.js";
import {
  type ReplicaEvent,
  type ReplicatorOptions,
  type ReplicatorStatus,
  type ResolvedReplicatorOptions,
  resolveReplicatorOptions,
} from "./replicator-options.js";
import type { SqliteDriver } from "./sqlite/handle.js";
import { TickScheduler } from "./tick-scheduler.js";
import { Uploader } from "./upload/uploader.js";
import { PeriodicValidator } from "./verify/periodic.js";

export type { ReplicaEvent, ReplicatorOptions, ReplicatorStatus } from "./replicator-options.js";

/** close() drains for this long (ms) by default: Cloud Run and most supervisors give 10 s after SIGTERM. */
export const DEFAULT_CLOSE_DEADLINE_MS = 10_000;

export class Replicator {
  readonly dbPath: string;
  readonly client: ReplicaClient;
  private maint: Maintainer | null = null;
  private validator: PeriodicValidator | null = null;
  private readonly maintenance: ReplicatorOptions["maintenance"];
  private readonly o: ResolvedReplicatorOptions;
  private readonly emit: (e: ReplicaEvent) => void;
  private db!: Db;
  private uploader!: Uploader;
  private lock: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private uploadWake: (() => void) | null = null;
  private uploadLoopDone: Promise<void> = Promise.resolve();
  private lastSyncAt: number | null = null;
  private lastCheckpointAt = 0;
  private syncedSinceCheckpoint = false;
  private lastSnapshotAt = 0;
  private oldestUnuploadedAt: number | null = null;
  private readonly abort = new AbortController();
  private unlock: () => void = () => {};
  private readonly leaseOpt: boolean | LeaseOptions;
  private keeper: LeaseKeeper | null = null;
  /** The client every write goes through: fenced by the lease when there is one. */
  private writer: ReplicaClient;

  constructor(opts: ReplicatorOptions) {
    this.dbPath = opts.db;
    this.client = opts.replica;
    this.o = resolveReplicatorOptions(opts);
    this.emit = opts.onEvent ?? (() => {});
    this.leaseOpt = opts.lease ?? true;
    this.writer = opts.replica;
    this.maintenance = opts.maintenance;
    this.driver = opts.driver;
    this.ticks = new TickScheduler(`${opts.db}-wal`, this.o.syncIntervalMs, this.o.clock, () =>
      this.tickOnce(),
    );
  }

  private readonly ticks: TickScheduler;

  private readonly driver: SqliteDriver | undefined;

  get txid(): bigint {
    return this.db.txid;
  }

  /** Opens the database, finds the chain position, captures once and starts the loops. */
  async start(signal?: AbortSignal): Promise<void> {
    this.db = new Db({
      path: this.dbPath,
      metaDir: this.o.metaDir,
      busyTimeoutMs: this.o.busyTimeoutMs,
      clock: this.o.clock,
      driver: this.driver,
    });
    try {
      this.unlock = acquireMetaLockIn(this.o.metaDir, this.dbPath);
      await this.takeLease(signal);
      this.uploader = new Uploader(
        this.writer,
        this.db.staging,
        this.o.clock,
        (e) => {
          this.maint?.noteUploaded({ minTXID: e.minTXID, maxTXID: e.maxTXID, size: e.bytes });
          this.emit({ ...e, db: this.dbPath });
        },
        Math.random,
        (error) => this.emit({ type: "error", db: this.dbPath, error, fatal: false }),
      );
      if (this.maintenance) {
        this.maint = new Maintainer(this.writer, {
          ...this.maintenance,
          clock: this.o.clock,
          // Staged L0 files are read locally when still there: no GET for the common L1 compaction.
          localL0: (min, max) => this.db.staging.pathFor(min, max),
          onEvent: (event) => this.emit({ type: "maintenance", db: this.dbPath, event }),
        });
      }
      if (this.o.validateIntervalMs > 0) {
        this.validator = new PeriodicValidator(this.client, {
          intervalMs: this.o.validateIntervalMs,
          clock: this.o.clock,
          // Holes are judged against the window retention keeps, so retention's deletions are not problems.
          pitrWindowMs: this.maintenance ? this.maintenance.pitrWindowMs : undefined,
          onResult: (r) => this.emit({ type: "validation", db: this.dbPath, ...r }),
        });
      }
      const remote = await this.uploader.fetchReplicaTXID(signal);
      await this.db.resume(remote);
      await this.captureNow();
      const snaps = await this.writer.list(SNAPSHOT_LEVEL, { signal });
      const newest = snaps[snaps.length - 1];
      this.lastSnapshotAt = newest ? newest.createdAt : 0;
      // A database whose page size changed since the newest snapshot (replaced, or rebuilt in rollback
      // mode) cannot be restored from that snapshot plus level-0 files of another page size: start anew.
      const resized =
        newest !== undefined && (await snapshotPageSize(this.client, newest, signal)) !== this.db.pageSize;
      if ((snaps.length === 0 && this.o.initialSnapshot) || resized) await this.snapshot(signal);
    } catch (e) {
      this.stopped = true;
      this.db.close();
      await this.keeper?.stop().catch(() => {});
      this.unlock();
      throw e;
    }
    this.uploadLoopDone = this.uploadLoop();
    this.ticks.start();
  }

  /**
   * Before the first write: a second writer on the same replica path fails here, naming the holder. No
   * lease when the option is false or the backend has none (startLease returns null).
   */
  private async takeLease(signal?: AbortSignal): Promise<void> {
    const held = await startLease(this.client, this.leaseOpt, {
      signal,
      warn: (message) => this.emit({ type: "warning", db: this.dbPath, message }),
      onLost: (e) => this.leaseLost(e),
    });
    if (!held) return;
    this.keeper = held.keeper;
    this.writer = held.writer;
  }

  /** Another writer owns the replica now: stop uploading at once; capture into staging is harmless. */
  private leaseLost(e: WalshipError): void {
    this.emit({ type: "error", db: this.dbPath, error: e, fatal: true });
    this.abort.abort();
    this.wakeUploader();
  }

  get lease(): Lease | null {
    return this.keeper?.lease ?? null;
  }

  private async tickOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.captureNow();
      await this.maybeCheckpoint();
      if (
        this.o.snapshotIntervalMs > 0 &&
        this.snapshotInFlight === null &&
        this.o.clock.now() - this.lastSnapshotAt >= this.o.snapshotIntervalMs
      ) {
        // In the background: capture must go on while a large snapshot uploads, and ticks can overlap
        // (a -wal change schedules one while another runs), so at most one snapshot runs at a time.
        void this.snapshot(this.abort.signal).catch((e) => this.reportError(e));
      }
      // Not awaited: a long compaction must never hold up capture. run() joins a run still in progress
      // and reports its own errors as "maintenance" events; it costs no request when nothing is due.
      void this.maint?.run(this.abort.signal);
      this.validator?.maybeStart(this.abort.signal);
    } catch (e) {
      this.reportError(e);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => {});
    return next;
  }

  /** Capture whatever is committed now; returns the staged file, if any. */
  captureNow(): Promise<SyncResult | null> {
    return this.serial(async () => {
      const r = await withCaptureSlot(() => this.db.sync());
      this.lastSyncAt = this.o.clock.now();
      if (r) {
        this.syncedSinceCheckpoint = true;
        this.oldestUnuploadedAt ??= this.o.clock.now();
        this.emit({ type: "synced", db: this.dbPath, txid: r.txid, pages: r.pages, full: r.full });
        this.wakeUploader();
      }
      await this.writeStatus();
      return r;
    });
  }

  private async maybeCheckpoint(): Promise<void> {
    const mode = checkpointDue(
      {
        minPages: this.o.minCheckpointPages,
        intervalMs: this.o.checkpointIntervalMs,
        truncatePages: this.o.truncatePages,
      },
      {
        walPages: this.db.walPages(),
        syncedSinceCheckpoint: this.syncedSinceCheckpoint,
        msSinceCheckpoint: this.o.clock.now() - this.lastCheckpointAt,
      },
    );
    if (mode) await this.checkpoint(mode);
  }

  /** Runs a checkpoint now (the emergency TRUNCATE tries PASSIVE first, as that may be enough). */
  checkpoint(mode: "PASSIVE" | "TRUNCATE"): Promise<void> {
    // In a capture slot too: with the 1 min interval, databases that started together checkpoint together.
    return this.serial(() =>
      withCaptureSlot(async () => {
        const t0 = this.o.clock.now();
        let r = await this.db.checkpoint("PASSIVE");
        if (mode === "TRUNCATE") {
          await this.db.sync();
          if (this.db.walPages() >= this.o.truncatePages) r = await this.db.checkpoint("TRUNCATE");
        }
        this.lastCheckpointAt = this.o.clock.now();
        this.syncedSinceCheckpoint = false;
        this.emit({
          type: "checkpointed",
          db: this.dbPath,
          mode,
          durationMs: this.o.clock.now() - t0,
          busy: r.busy,
        });
      }),
    );
  }

  private snapshotInFlight: Promise<{ txid: bigint; bytes: number }> | null = null;

  /** Takes an L9 snapshot of the database at the current TXID and uploads it (joins one in flight). */
  snapshot(signal?: AbortSignal): Promise<{ txid: bigint; bytes: number }> {
    if (this.snapshotInFlight) return this.snapshotInFlight;
    const p = this.snapshotOnce(signal).finally(() => {
      this.snapshotInFlight = null;
    });
    this.snapshotInFlight = p;
    return p;
  }

  private async snapshotOnce(signal?: AbortSignal): Promise<{ txid: bigint; bytes: number }> {
    const snap = await this.serial(() =>
      withCaptureSlot(async () => {
        await this.db.sync();
        // The chain's first file already is the whole database at TXID 1, byte for byte what a snapshot
        // 1-1 would be: ship a copy instead of encoding the database a second time.
        if (this.db.txid === 1n) {
          const first = await copyFirstFile(this.db.staging.pathFor(1n, 1n), this.o.metaDir);
          if (first) return first;
        }
        const src = await this.db.imageSource();
        return encodeSnapshotFile(src, this.o.metaDir, this.o.clock.now());
      }),
    );
    await uploadSnapshot(this.writer, snap, signal);
    this.maint?.noteUploaded({
      level: SNAPSHOT_LEVEL,
      minTXID: 1n,
      maxTXID: snap.txid,
      size: snap.size,
      createdAt: snap.timestamp,
    });
    this.lastSnapshotAt = this.o.clock.now();
    this.emit({ type: "snapshot", db: this.dbPath, txid: snap.txid, bytes: snap.size });
    return { txid: snap.txid, bytes: snap.size };
  }

  /**
   * Wakes the upload loop. A wake that arrives while the loop is busy (not waiting) is remembered, or a
   * capture that lands during an upload would wait out the idle sleep (10 sync intervals), and close()
   * would wait on it for as long.
   */
  private wakeUploader(): void {
    this.wakeRequested = true;
    this.uploadWake?.();
  }

  private wakeRequested = false;

  private async uploadLoop(): Promise<void> {
    const signal = this.abort.signal;
    while (!this.stopped && !signal.aborted && !this.keeper?.lostError) {
      this.wakeRequested = false;
      try {
        await this.uploader.uploadPending(signal);
        if (this.uploader.replicaTXID >= this.db.txid) this.oldestUnuploadedAt = null;
        await this.writeStatus();
      } catch (e) {
        // Our own abort (close() stops the loop and drains with sync() itself) is not an upload failure.
        if (!signal.aborted) this.reportError(e, true);
        return;
      }
      if (this.wakeRequested || this.stopped || signal.aborted) continue;
      const wait =
        this.uploader.replicaTXID >= this.db.txid ? this.o.syncIntervalMs * 10 : this.uploader.delayMs();
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.max(wait, 0));
        signal.addEventListener("abort", done, { once: true });
        function done(): void {
          clearTimeout(t);
          signal.removeEventListener("abort", done);
          resolve();
        }
        this.uploadWake = done;
      });
      this.uploadWake = null;
    }
  }

  /**
   * Resolves once everything committed before the call is on the replica. Apps call it before
   * acknowledging a critical write.
   */
  async sync(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<bigint> {
    await this.captureNow();
    const target = this.db.txid;
    const deadline =
      opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : this.o.clock.now() + opts.timeoutMs;
    while (this.uploader.replicaTXID < target) {
      if (this.fatalError) throw this.fatalError;
      if (opts.signal?.aborted) throw new WalshipError("aborted", "sync aborted", { op: "sync" });
      if (this.o.clock.now() > deadline) {
        throw new WalshipError("storage_connection", "replica did not confirm in time", {
          op: "sync",
          context: { db: this.dbPath, txid: target },
          retryable: true,
          hint: this.uploader.status().lastError ?? undefined,
        });
      }
      const n = await this.uploader.uploadPending(opts.signal);
      if (n === 0 && this.uploader.replicaTXID < target) {
        await this.o.clock.sleep(Math.max(50, this.uploader.delayMs()), opts.signal);
      }
    }
    return target;
  }

  status(): ReplicatorStatus {
    const u = this.uploader.status();
    const { replicaTXID, ...upload } = u;
    const lag =
      this.oldestUnuploadedAt !== null && replicaTXID < this.db.txid
        ? (this.o.clock.now() - this.oldestUnuploadedAt) / 1000
        : 0;
    return {
      db: this.dbPath,
      replica: this.client.location,
      txid: this.db.txid.toString(16).padStart(16, "0"),
      replicaTXID: replicaTXID.toString(16).padStart(16, "0"),
      walBytes: this.db.walBytes,
      lastSyncAt: this.lastSyncAt,
      upload,
      lagSeconds: lag,
    };
  }

  private writeStatus(): Promise<void> {
    return writeStatusFile(this.o.metaDir, this.status(), this.o.clock.now());
  }

  private reportError(e: unknown, fatal = false): void {
    const err =
      e instanceof WalshipError
        ? e
        : new WalshipError("internal", e instanceof Error ? e.message : String(e), { cause: e });
    this.emit({ type: "error", db: this.dbPath, error: err, fatal });
  }

  get fatalError(): WalshipError | null {
    return this.keeper?.lostError ?? this.uploader?.fatalError ?? null;
  }

  /**
   * Stops capture, captures what is committed, and uploads everything staged until the deadline.
   * Returns true when the replica holds every captured transaction.
   */
  async close(opts: { deadlineMs?: number } = {}): Promise<boolean> {
    if (this.stopped) return true;
    this.stopped = true;
    this.ticks.stop();
    const deadline = this.o.clock.now() + (opts.deadlineMs ?? DEFAULT_CLOSE_DEADLINE_MS);
    let ok = false;
    try {
      await this.captureNow().catch((e) => this.reportError(e));
      this.wakeUploader();
      this.abort.abort();
      await this.uploadLoopDone;
      // An aborted snapshot upload cleans up after itself (no .tmp left in the replica or meta dir).
      await this.snapshotInFlight?.catch(() => {});
      // The abort above stops a compaction mid-stream; its output is discarded whole, never half-written.
      await this.maint?.settled();
      await this.validator?.settled();
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), Math.max(0, deadline - this.o.clock.now()));
      try {
        await this.sync({ signal: ac.signal });
        ok = true;
      } catch (e) {
        this.reportError(e);
      } finally {
        clearTimeout(t);
      }
      await this.writeStatus();
    } finally {
      await this.lock;
      this.db.close();
      // After the drain: the last uploads still need the lease. A lost lease is not released.
      await this.keeper?.stop().catch((e) => this.reportError(e));
      this.unlock();
    }
    return ok;
  }
}
