/**
 * Ships staged L0 files to the replica strictly in TXID order, one PUT per file, from its own loop, so a
 * slow or unreachable store never blocks capture: files simply wait in staging.
 *
 * Failures: auth and not-found errors are fatal (they will not fix themselves; the caller reports them and
 * stops). Everything else is retried forever with exponential backoff and full jitter; after
 * BREAKER_THRESHOLD consecutive failures the breaker opens and attempts are spaced BREAKER_COOLDOWN_MS
 * apart, so a dead store costs one request per cooldown, not one per tick.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Clock } from "../clock.js";
import { readStagedHeader } from "../db/pages.js";
import type { StagedFile, Staging } from "../db/staging.js";
import { WalshipError } from "../errors.js";
import { Limiter } from "../limiter.js";
import { decodeHeader, HEADER_SIZE } from "../ltx/header.js";
import type { ReplicaClient } from "../replica/client.js";
import { backoffDelay } from "../replica/retry.js";

/** Staged files up to this size (bytes) are read into memory for upload; larger ones are streamed. */
const READ_WHOLE_BYTES = 8 * 1024 * 1024;
/**
 * Bytes of staged files being uploaded at once in the whole process, over all databases (a streamed
 * file counts as READ_WHOLE_BYTES). It bounds upload buffers whatever the number of databases, yet at
 * the usual level-0 file of tens of KiB it still lets hundreds of PUTs run at once: 1000 databases at one
 * PUT per second each keep up with a store that takes several hundred ms per PUT.
 */
export const UPLOAD_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
const uploadBudget = new Limiter(UPLOAD_BYTES_IN_FLIGHT);

/** First retry delay ceiling (ms) after a failed upload; doubles per failure. */
export const UPLOAD_BACKOFF_BASE_MS = 250;
/** Largest retry delay (ms): an outage is noticed and retried at least this often. */
export const UPLOAD_BACKOFF_MAX_MS = 15_000;
/** Consecutive failures after which the circuit breaker opens. */
export const BREAKER_THRESHOLD = 5;
/** While open, one probe per this many ms (the store is down; spare it and the logs). */
export const BREAKER_COOLDOWN_MS = 15_000;

export type BreakerState = "closed" | "open" | "half-open";

export interface UploaderStatus {
  replicaTXID: bigint;
  pending: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastUploadAt: number | null;
  breaker: BreakerState;
  consecutiveFailures: number;
}

export interface UploadEvent {
  type: "uploaded";
  minTXID: bigint;
  maxTXID: bigint;
  bytes: number;
}

export class Uploader {
  replicaTXID = 0n;
  private failures = 0;
  private lastError: WalshipError | null = null;
  private lastErrorAt: number | null = null;
  private lastUploadAt: number | null = null;
  private openedAt = 0;
  private pending = 0;
  private fatal: WalshipError | null = null;

  constructor(
    private readonly client: ReplicaClient,
    private readonly staging: Staging,
    private readonly clock: Clock,
    private readonly onUpload: (e: UploadEvent) => void = () => {},
    private readonly random: () => number = Math.random,
    /** Called on every retryable failure, so operators see an outage as it starts, not only in status. */
    private readonly onFailure: (err: WalshipError, consecutive: number) => void = () => {},
  ) {}

  /**
   * The replica's highest TXID over all levels (one LIST per level), for numbering new files. Uploads
   * resume after the highest TXID of levels 0..8 only: a snapshot is uploaded outside this ordered queue,
   * so it can land before the level-0 files below it, and a walship killed right then must still upload
   * them on restart, or TXIDs it acknowledged could not be restored to (their data only in the snapshot).
   */
  async fetchReplicaTXID(signal?: AbortSignal): Promise<bigint> {
    let chain = 0n;
    let max = 0n;
    for (const level of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      const files = await this.client.list(level, { signal });
      for (const f of files) {
        if (f.maxTXID > max) max = f.maxTXID;
        if (level < 9 && f.maxTXID > chain) chain = f.maxTXID;
      }
    }
    this.replicaTXID = chain;
    return max;
  }

  get fatalError(): WalshipError | null {
    return this.fatal;
  }

  breakerState(): BreakerState {
    if (this.failures < BREAKER_THRESHOLD) return "closed";
    return this.clock.now() - this.openedAt >= BREAKER_COOLDOWN_MS ? "half-open" : "open";
  }

  /** Milliseconds to wait before the next attempt is worthwhile (0 = now). */
  delayMs(): number {
    if (this.failures === 0) return 0;
    if (this.failures >= BREAKER_THRESHOLD) {
      return Math.max(0, BREAKER_COOLDOWN_MS - (this.clock.now() - this.openedAt));
    }
    const since = this.clock.now() - (this.lastErrorAt ?? 0);
    const wait = backoffDelay(this.failures, UPLOAD_BACKOFF_BASE_MS, UPLOAD_BACKOFF_MAX_MS, this.random);
    return Math.max(0, wait - since);
  }

  /**
   * Uploads every staged file above the replica position, in order. Returns the number uploaded; on a
   * retryable error records it and returns (the caller retries after delayMs()); on a fatal error throws.
   */
  uploadPending(signal?: AbortSignal): Promise<number> {
    // The loop and sync() may both ask; one upload pass at a time keeps PUTs strictly ordered.
    const run = this.chain.then(() => this.uploadPass(signal));
    this.chain = run.catch(() => {});
    return run;
  }

  private chain: Promise<unknown> = Promise.resolve();

  private async uploadPass(signal?: AbortSignal): Promise<number> {
    if (this.fatal) throw this.fatal;
    const staged = await this.staging.list();
    const todo = staged.filter((f) => f.maxTXID > this.replicaTXID);
    this.pending = todo.length;
    let done = 0;
    for (const f of todo) {
      if (signal?.aborted) break;
      try {
        await this.uploadOne(f, signal);
      } catch (e) {
        this.recordFailure(e);
        return done;
      }
      done++;
      this.pending--;
    }
    await this.trimStaging(staged);
    return done;
  }

  private async uploadOne(f: StagedFile, signal?: AbortSignal): Promise<void> {
    const size = await this.localRead(f, () => this.staging.size(f));
    // The process-wide byte budget is taken before the file is read: with many databases behind at once,
    // memory is bounded by the budget, not by the number of databases.
    await uploadBudget.run(() => this.send(f, size, signal), {
      signal,
      op: "upload",
      weight: Math.min(size, READ_WHOLE_BYTES),
    });
    this.replicaTXID = f.maxTXID;
    this.failures = 0;
    this.lastUploadAt = this.clock.now();
    this.onUpload({ type: "uploaded", minTXID: f.minTXID, maxTXID: f.maxTXID, bytes: size });
  }

  private async send(f: StagedFile, size: number, signal?: AbortSignal): Promise<void> {
    // Small files (nearly every L0) are read whole, header included: one read, a local read error can
    // never be mistaken for a storage error, and the request carries a plain body.
    const bytes = size <= READ_WHOLE_BYTES ? await this.localRead(f, () => readFile(f.path)) : null;
    const hdr = await this.localRead(f, async () =>
      bytes ? decodeHeader(bytes.subarray(0, HEADER_SIZE)) : readStagedHeader(f.path),
    );
    const body = bytes ?? createReadStream(f.path);
    // A client that fails before reading the stream must not leak its descriptor or an error event.
    if (!(body instanceof Uint8Array)) body.on("error", () => {});
    try {
      await this.client.write(0, f.minTXID, f.maxTXID, body, { timestamp: Number(hdr.timestamp), signal });
    } finally {
      if (!(body instanceof Uint8Array)) body.destroy();
    }
  }

  /** A failure reading the staged file is local and retryable, never a storage error. */
  private async localRead<T>(f: StagedFile, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      throw new WalshipError("internal", `cannot read staged file ${f.path}: ${(e as Error).message}`, {
        op: "upload",
        context: { path: f.path, minTXID: f.minTXID, maxTXID: f.maxTXID },
        retryable: true,
        cause: e,
      });
    }
  }

  private recordFailure(e: unknown): void {
    const err =
      e instanceof WalshipError
        ? e
        : new WalshipError("storage", e instanceof Error ? e.message : String(e), {
            retryable: true,
            cause: e,
          });
    this.lastError = err;
    this.lastErrorAt = this.clock.now();
    if (err.code === "storage_auth" || err.code === "replica_not_found" || err.code === "permission") {
      this.fatal = err;
      throw err;
    }
    if (err.code === "aborted") return;
    this.failures++;
    this.onFailure(err, this.failures);
    if (this.failures === BREAKER_THRESHOLD || this.failures > BREAKER_THRESHOLD)
      this.openedAt = this.clock.now();
  }

  /** Uploaded staged files are deleted, except the newest: it anchors the WAL position after a restart. */
  private async trimStaging(staged: StagedFile[]): Promise<void> {
    const newest = staged[staged.length - 1];
    for (const f of staged) {
      if (f !== newest && f.maxTXID <= this.replicaTXID) await this.staging.remove(f);
    }
  }

  status(): UploaderStatus {
    return {
      replicaTXID: this.replicaTXID,
      pending: this.pending,
      lastError: this.lastError ? this.lastError.oneLine() : null,
      lastErrorAt: this.lastErrorAt,
      lastUploadAt: this.lastUploadAt,
      breaker: this.breakerState(),
      consecutiveFailures: this.failures,
    };
  }
}
