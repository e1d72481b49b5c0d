/**
 * Compaction and retention for one replica. The owner calls run() often (every replicator tick); it does
 * whatever is due at clock.now() and returns at once otherwise:
 * - each level compacts at wall-clock multiples of its interval (select.ts, compact.ts);
 * - retention is re-evaluated from the cached listing every RETENTION_CHECK_MS and after a compaction,
 *   and a deletion pass (re-list everything, re-plan, delete) runs at most every deleteIntervalMs.
 *
 * Requests: listings are cached (listing-cache.ts), the uploader's noteUploaded() hints keep level 0
 * current without LISTs, and the cache is refreshed every refreshIntervalMs. An idle database therefore
 * costs 10 LISTs per refresh (20 per hour by default) and no PUT. Without hints, level 0 is re-listed
 * before L1 compactions, backing off exponentially while nothing new appears.
 *
 * Crash safety: a compaction's output appears atomically or not at all, and deletions only ever remove
 * files that retention.ts proved unnecessary, so stopping anywhere (abort, crash, a failing store)
 * leaves a restorable replica; the next run picks up from what the replica holds.
 */
import type { Clock } from "../clock.js";
import { WalshipError } from "../errors.js";
import {
  emptyRequestCounts,
  type LtxFileInfo,
  type ReplicaClient,
  type RequestCounts,
  type RequestKind,
} from "../replica/client.js";
import { type CompactedFile, runCompaction } from "./compact.js";
import { insertSorted, type Levels, newestOf } from "./levels.js";
import { ListingCache } from "./listing-cache.js";
import {
  boundary,
  COMPACTION_RETRY_MS,
  DEFAULT_DELETE_INTERVAL_MS,
  DEFAULT_REFRESH_INTERVAL_MS,
  type LevelSpec,
  type Policy,
  type PolicyOptions,
  RETENTION_CHECK_MS,
  resolvePolicy,
} from "./policy.js";
import { type Deletion, type KeptSnapshot, planRetention } from "./retention.js";
import { type CompactionJob, selectCompaction } from "./select.js";
import type { LocalSource } from "./sources.js";
import { retentionWindow } from "./window.js";

/** Longest pause (ms) after repeated listing failures: an outage is re-probed at least this often. */
const MAX_PAUSE_MS = 5 * 60_000;

export type MaintenanceEvent =
  | { type: "compacted"; file: CompactedFile }
  | { type: "deleted"; files: LtxFileInfo[]; bytes: number }
  | { type: "retention_blocked"; reason: string }
  | { type: "gap"; level: number; sourceLevel: number; expected: bigint; found: bigint }
  | { type: "error"; op: string; level?: number; error: WalshipError };

export interface MaintainerOptions extends PolicyOptions {
  clock: Clock;
  /** Local copy of a level-0 file (the staging directory), read instead of the replica when present. */
  localL0?: (minTXID: bigint, maxTXID: bigint) => string | null;
  onEvent?: (e: MaintenanceEvent) => void;
  /** Re-list every level this often (ms); default DEFAULT_REFRESH_INTERVAL_MS. */
  refreshIntervalMs?: number;
  /** Minimum spacing of deletion passes (ms); default DEFAULT_DELETE_INTERVAL_MS. */
  deleteIntervalMs?: number;
  /**
   * Every level is due at every run (one-shot use, `walship compact --force`). Otherwise a new Maintainer
   * treats a level whose newest file was created in the current interval as done for that interval, as
   * Litestream does, so that restarts do not each cut a short file into every level.
   */
  ignoreSchedule?: boolean;
}

export interface MaintenanceReport {
  at: number;
  compactions: CompactedFile[];
  deleted: LtxFileInfo[];
  errors: WalshipError[];
  /** Requests this run made (all kinds). */
  requests: RequestCounts;
}

export interface PlannedCompaction {
  level: number;
  sourceLevel: number;
  minTXID: bigint;
  maxTXID: bigint;
  inputs: LtxFileInfo[];
  inputBytes: number;
}

export interface MaintenancePlan {
  at: number;
  compactions: PlannedCompaction[];
  deletions: Deletion[];
  snapshots: KeptSnapshot[];
  /** The window's anchor snapshot TXID and floor (see window.ts); 0 when the window reaches TXID 1. */
  floor: bigint;
  anchor: LtxFileInfo | null;
  blocked?: string;
}

/** A hint from the uploader (or snapshotter) that a file now exists in the replica. */
export interface UploadedFile {
  /** Default 0. */
  level?: number;
  minTXID: bigint;
  maxTXID: bigint;
  size?: number;
  /** Default: now (a later time only delays L0 retention). */
  createdAt?: number;
}

function asWalshipError(e: unknown, op: string): WalshipError {
  if (e instanceof WalshipError) return e;
  return new WalshipError("internal", e instanceof Error ? e.message : String(e), { op, cause: e });
}

function requestDelta(after: RequestCounts, before: RequestCounts): RequestCounts {
  const out = emptyRequestCounts();
  for (const k of Object.keys(out) as RequestKind[]) out[k] = after[k] - before[k];
  return out;
}

export class Maintainer {
  readonly policy: Policy;
  private readonly clock: Clock;
  private readonly cache: ListingCache;
  private readonly local: LocalSource | undefined;
  private readonly emit: (e: MaintenanceEvent) => void;
  private readonly refreshIntervalMs: number;
  private readonly deleteIntervalMs: number;
  private readonly ignoreSchedule: boolean;
  private readonly nextDue = new Map<number, number>();
  private inflight: Promise<MaintenanceReport> | null = null;
  private hinted = false;
  private l0NextList = 0;
  private l0Backoff: number;
  private lastRetentionCheck = Number.NEGATIVE_INFINITY;
  private lastDeletePass = Number.NEGATIVE_INFINITY;
  /** After failed listings, runs do nothing until then, so a dead store is not polled every tick. */
  private pausedUntil = 0;
  private listFailures = 0;
  private readonly levelFailures = new Map<number, number>();

  constructor(
    private readonly client: ReplicaClient,
    opts: MaintainerOptions,
  ) {
    this.policy = resolvePolicy(opts);
    this.clock = opts.clock;
    this.cache = new ListingCache(client, () => this.clock.now());
    const localL0 = opts.localL0;
    this.local = localL0 ? (level, min, max) => (level === 0 ? localL0(min, max) : null) : undefined;
    this.emit = opts.onEvent ?? (() => {});
    this.refreshIntervalMs = opts.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    this.deleteIntervalMs = opts.deleteIntervalMs ?? DEFAULT_DELETE_INTERVAL_MS;
    this.ignoreSchedule = opts.ignoreSchedule ?? false;
    this.l0Backoff = this.policy.levels[0]?.intervalMs ?? COMPACTION_RETRY_MS;
  }

  /** The uploader's hint: saves listing level 0 to find new files. */
  noteUploaded(f: UploadedFile): void {
    const level = f.level ?? 0;
    if (level === 0) this.hinted = true;
    this.cache.add({
      level,
      minTXID: f.minTXID,
      maxTXID: f.maxTXID,
      size: f.size ?? 0,
      createdAt: f.createdAt ?? this.clock.now(),
    });
  }

  /** Does what is due now. Never throws for storage trouble: errors are reported and retried later. */
  run(signal?: AbortSignal): Promise<MaintenanceReport> {
    // A run still going (a long compaction) is shared rather than doubled.
    this.inflight ??= this.runOnce(signal).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** Resolves when no run is in progress (for shutdown: abort the run's signal, then await this). */
  async settled(): Promise<void> {
    await this.inflight;
  }

  private async runOnce(signal?: AbortSignal): Promise<MaintenanceReport> {
    const now = this.clock.now();
    const before = { ...this.client.requests };
    const report: MaintenanceReport = { at: now, compactions: [], deleted: [], errors: [], requests: before };
    if (now < this.pausedUntil) return this.finish(report, before);
    const fail = (op: string, e: unknown, level?: number) => {
      const error = asWalshipError(e, op);
      report.errors.push(error);
      this.emit({ type: "error", op, level, error });
      // Whatever failed may have been caused by a wrong idea of the replica; look again next time.
      if (error.code !== "aborted") this.cache.invalidate();
    };
    try {
      if (this.cache.refreshedAt === 0 || now - this.cache.refreshedAt >= this.refreshIntervalMs) {
        await this.cache.refreshAll(signal);
      } else await this.cache.ensureAll(signal);
      this.listFailures = 0;
    } catch (e) {
      fail("maintenance list", e);
      if (signal?.aborted) return this.finish(report, before);
      this.listFailures++;
      this.pausedUntil = now + Math.min(COMPACTION_RETRY_MS * 2 ** (this.listFailures - 1), MAX_PAUSE_MS);
      return this.finish(report, before);
    }
    for (const [i, spec] of this.policy.levels.entries()) {
      if (!this.isDue(spec, now)) continue;
      try {
        await this.compactLevel(spec, i === 0 ? 0 : this.policy.levels[i - 1]!.level, now, report, signal);
        this.nextDue.set(spec.level, boundary(now, spec.intervalMs) + spec.intervalMs);
        this.levelFailures.delete(spec.level);
      } catch (e) {
        fail(`compaction into level ${spec.level}`, e, spec.level);
        // A failure that repeats (a damaged input) is retried less and less often, not every tick.
        const n = (this.levelFailures.get(spec.level) ?? 0) + 1;
        this.levelFailures.set(spec.level, n);
        this.nextDue.set(spec.level, now + Math.min(COMPACTION_RETRY_MS * 2 ** (n - 1), MAX_PAUSE_MS));
        // The rest waits for the next run, which re-lists first: the cache was just dropped.
        return this.finish(report, before);
      }
    }
    try {
      await this.retain(now, report.compactions.length > 0, report, signal);
    } catch (e) {
      fail("retention", e);
    }
    return this.finish(report, before);
  }

  private isDue(spec: LevelSpec, now: number): boolean {
    if (this.ignoreSchedule) return true;
    let due = this.nextDue.get(spec.level);
    if (due === undefined) {
      const start = boundary(now, spec.intervalMs);
      const newest = newestOf(this.cache.snapshot(), spec.level);
      due = newest && newest.createdAt >= start ? start + spec.intervalMs : 0;
      this.nextDue.set(spec.level, due);
    }
    return now >= due;
  }

  private finish(report: MaintenanceReport, before: RequestCounts): MaintenanceReport {
    report.requests = requestDelta(this.client.requests, before);
    return report;
  }

  private async compactLevel(
    spec: LevelSpec,
    sourceLevel: number,
    now: number,
    report: MaintenanceReport,
    signal?: AbortSignal,
  ): Promise<void> {
    if (sourceLevel === 0 && !this.hinted && now >= this.l0NextList) await this.relistL0(now, signal);
    let relisted = false;
    let reached = 0n;
    for (;;) {
      const levels = this.cache.snapshot();
      const w = retentionWindow(levels, now, this.policy.pitrWindowMs);
      const job = selectCompaction(levels, spec.level, sourceLevel, w.base, this.policy.maxInputs);
      // The second condition cannot hold while the cache records our writes; it rules out a loop of PUTs.
      if (!job || job.maxTXID <= reached) return;
      if (job.gapBefore && !relisted) {
        // A hole may only be in our cached listing (a missed hint): look before compacting past it.
        relisted = true;
        await this.cache.list(sourceLevel, signal);
        await this.cache.list(spec.level, signal);
        continue;
      }
      if (job.gapBefore) {
        this.emit({ type: "gap", level: spec.level, sourceLevel, expected: job.start, found: job.minTXID });
      }
      const file = await runCompaction(this.client, job, {
        local: this.local,
        signal,
        now: () => this.clock.now(),
      });
      this.cache.add(file);
      reached = file.maxTXID;
      report.compactions.push(file);
      this.emit({ type: "compacted", file });
      if (!job.truncated) return;
    }
  }

  /** Without hints level 0 must be listed to see new files; while it stays unchanged, less and less often. */
  private async relistL0(now: number, signal?: AbortSignal): Promise<void> {
    const before = this.cache.snapshot().get(0) ?? [];
    const newest = before.length ? before[before.length - 1]!.maxTXID : 0n;
    const files = await this.cache.list(0, signal);
    const grew = files.length > 0 && files[files.length - 1]!.maxTXID > newest;
    const first = this.policy.levels[0]?.intervalMs ?? COMPACTION_RETRY_MS;
    this.l0Backoff = grew ? first : Math.min(this.l0Backoff * 2, this.refreshIntervalMs);
    this.l0NextList = now + this.l0Backoff;
  }

  private async retain(
    now: number,
    changed: boolean,
    report: MaintenanceReport,
    signal?: AbortSignal,
  ): Promise<void> {
    if (!this.policy.retention) return;
    if (!changed && now - this.lastRetentionCheck < RETENTION_CHECK_MS) return;
    this.lastRetentionCheck = now;
    if (planRetention(this.cache.snapshot(), now, this.policy).deletions.length === 0) return;
    if (now - this.lastDeletePass < this.deleteIntervalMs) return;
    this.lastDeletePass = now;
    // Deleting is the one step a stale listing could make unsafe: decide on a fresh one.
    await this.cache.refreshAll(signal);
    const plan = planRetention(this.cache.snapshot(), now, this.policy);
    if (plan.blocked) this.emit({ type: "retention_blocked", reason: plan.blocked });
    if (plan.deletions.length === 0) return;
    const files = plan.deletions.map((d) => d.file);
    try {
      await this.client.delete(files, { signal });
    } catch (e) {
      // Some may be gone already; the next pass re-lists and finishes the job.
      this.cache.invalidate();
      throw e;
    }
    this.cache.remove(files);
    report.deleted.push(...files);
    this.emit({ type: "deleted", files, bytes: files.reduce((n, f) => n + f.size, 0) });
  }

  /**
   * What run() would do now, without doing it: compactions (with their inputs) and then the deletions
   * that retention would make once they exist. Lists every level first. Ignores the spacing of deletion
   * passes, so a dry run shows all that is deletable.
   */
  async plan(signal?: AbortSignal): Promise<MaintenancePlan> {
    const now = this.clock.now();
    await this.cache.refreshAll(signal);
    const levels = this.cache.snapshot();
    const compactions: PlannedCompaction[] = [];
    for (const [i, spec] of this.policy.levels.entries()) {
      if (!this.isDue(spec, now)) continue;
      const sourceLevel = i === 0 ? 0 : this.policy.levels[i - 1]!.level;
      for (;;) {
        const w = retentionWindow(levels, now, this.policy.pitrWindowMs);
        const job = selectCompaction(levels, spec.level, sourceLevel, w.base, this.policy.maxInputs);
        if (!job) break;
        compactions.push(planned(job));
        addVirtualOutput(levels, job);
        if (!job.truncated) break;
      }
    }
    const r = planRetention(levels, now, this.policy);
    return {
      at: now,
      compactions,
      deletions: r.deletions,
      snapshots: r.snapshots,
      floor: r.window.floor,
      anchor: r.window.anchor,
      blocked: r.blocked,
    };
  }
}

function planned(job: CompactionJob): PlannedCompaction {
  return {
    level: job.level,
    sourceLevel: job.sourceLevel,
    minTXID: job.minTXID,
    maxTXID: job.maxTXID,
    inputs: job.inputs,
    inputBytes: job.inputBytes,
  };
}

/** The file a job would write, so later levels and retention can be planned as if it existed. */
function addVirtualOutput(levels: Levels, job: CompactionJob): void {
  const files = levels.get(job.level) ?? [];
  insertSorted(files, {
    level: job.level,
    minTXID: job.minTXID,
    maxTXID: job.maxTXID,
    size: job.inputBytes,
    createdAt: job.inputs[job.inputs.length - 1]!.createdAt,
  });
  levels.set(job.level, files);
}
