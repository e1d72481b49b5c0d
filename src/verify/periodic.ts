/**
 * Periodic validation for `watch` (and replicate()): every interval, verifyReplica checks the replica in
 * the background (every file decoded and checksummed, continuity, the restore chain) and reports the
 * outcome as a "validation" event. It reads every file, so it costs a GET per file and is off unless
 * asked for.
 *
 * The replicator's tick calls maybeStart(); a run is never awaited there, so capture and upload never wait
 * for it, at most one runs at a time, and the replicator's abort signal stops it on close.
 */
import type { Clock } from "../clock.js";
import { WalshipError } from "../errors.js";
import type { ReplicaClient } from "../replica/client.js";
import type { VerifyProblem } from "./problems.js";
import { verifyReplica } from "./verify.js";

/** The outcome of one validation run. */
export interface ValidationResult {
  /** True only when the replica was checked completely and found whole. */
  ok: boolean;
  /** What is wrong with the replica (empty when ok, or when the run could not finish). */
  problems: VerifyProblem[];
  /** Set when the run could not finish (storage unreachable, no files yet): nothing was judged. */
  error: WalshipError | null;
  files: number;
  latestTXID: bigint;
  durationMs: number;
}

export interface PeriodicValidatorOptions {
  /** ms between runs; the first run is one interval after start. */
  intervalMs: number;
  clock: Clock;
  /** The point-in-time window holes are judged against (the database's retention window). */
  pitrWindowMs?: number;
  onResult: (r: ValidationResult) => void;
}

export class PeriodicValidator {
  private lastStartAt: number;
  private inflight: Promise<ValidationResult> | null = null;

  constructor(
    private readonly client: ReplicaClient,
    private readonly o: PeriodicValidatorOptions,
  ) {
    this.lastStartAt = o.clock.now();
  }

  /** Starts a run in the background when one is due and none is running. */
  maybeStart(signal: AbortSignal): void {
    if (this.inflight || signal.aborted) return;
    if (this.o.clock.now() - this.lastStartAt < this.o.intervalMs) return;
    // An aborted run rejects; close() is already waiting for it through settled().
    void this.run(signal).catch(() => {});
  }

  /** Runs one validation now (or joins the one in progress) and reports it. */
  run(signal?: AbortSignal): Promise<ValidationResult> {
    this.inflight ??= this.runOnce(signal).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** Resolves when no run is in progress (for shutdown: abort the signal, then await this). */
  async settled(): Promise<void> {
    await this.inflight?.catch(() => {});
  }

  private async runOnce(signal?: AbortSignal): Promise<ValidationResult> {
    const t0 = this.o.clock.now();
    this.lastStartAt = t0;
    let r: ValidationResult;
    try {
      const report = await verifyReplica(this.client, {
        signal,
        now: t0,
        pitrWindowMs: this.o.pitrWindowMs,
      });
      r = {
        ok: report.problems.length === 0,
        problems: report.problems,
        error: null,
        files: report.files,
        latestTXID: report.latestTXID,
        durationMs: this.o.clock.now() - t0,
      };
    } catch (e) {
      const error =
        e instanceof WalshipError
          ? e
          : new WalshipError("internal", e instanceof Error ? e.message : String(e), {
              op: "validate",
              cause: e,
            });
      // Stopped by close(): not an outcome worth reporting.
      if (error.code === "aborted" || signal?.aborted) throw error;
      r = { ok: false, problems: [], error, files: 0, latestTXID: 0n, durationMs: this.o.clock.now() - t0 };
    }
    this.o.onResult(r);
    return r;
  }
}
