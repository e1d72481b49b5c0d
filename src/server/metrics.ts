/**
 * The metrics sink: counters fed by store events, gauges read from each database's status at scrape
 * time. Litestream's names where the meaning is the same (so its Grafana dashboards work), walship_* for
 * the rest. Injected into the watch command, never global.
 */
import { statSync } from "node:fs";
import type { RequestCounts, RequestKind } from "../replica/client.js";
import type { DatabaseView, StoreEvent } from "../store.js";
import { Histogram, type Labels, PromText } from "./prom-text.js";

/** Checkpoint duration buckets (s): a PASSIVE checkpoint of a few pages is ~1 ms; TRUNCATE waits for readers. */
const CHECKPOINT_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30];
const KINDS: RequestKind[] = ["PUT", "GET", "LIST", "DELETE", "HEAD"];
const BREAKER_STATES = ["closed", "half-open", "open"] as const;

interface DbCounters {
  syncs: number;
  syncErrors: number;
  uploads: number;
  uploadedBytes: number;
  uploadErrors: number;
  snapshots: number;
  snapshotBytes: number;
  diskFull: boolean;
  /** Periodic validation runs by outcome, and the last one's time (s) and problem count. */
  validations: { ok: number; problems: number; error: number };
  lastValidation: { at: number; problems: number } | null;
  checkpoints: Map<string, { count: number; seconds: number; hist: Histogram }>;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export class MetricsSink {
  private readonly dbs = new Map<string, DbCounters>();
  /** Request counts of databases that went away, so the replica counters never go down. */
  private readonly retired = new Map<string, RequestCounts>();
  private readonly lastRequests = new Map<string, { type: string; requests: RequestCounts }>();

  constructor(private readonly now: () => number = Date.now) {}

  private counters(db: string): DbCounters {
    let c = this.dbs.get(db);
    if (!c) {
      c = {
        syncs: 0,
        syncErrors: 0,
        uploads: 0,
        uploadedBytes: 0,
        uploadErrors: 0,
        snapshots: 0,
        snapshotBytes: 0,
        diskFull: false,
        validations: { ok: 0, problems: 0, error: 0 },
        lastValidation: null,
        checkpoints: new Map(),
      };
      this.dbs.set(db, c);
    }
    return c;
  }

  observe(e: StoreEvent): void {
    const c = this.counters(e.db);
    switch (e.type) {
      case "synced":
        c.syncs++;
        c.diskFull = false;
        break;
      case "uploaded":
        c.uploads++;
        c.uploadedBytes += e.bytes;
        break;
      case "snapshot":
        c.snapshots++;
        c.snapshotBytes += e.bytes;
        break;
      case "checkpointed": {
        let m = c.checkpoints.get(e.mode);
        if (!m) {
          m = { count: 0, seconds: 0, hist: new Histogram(CHECKPOINT_BUCKETS_S) };
          c.checkpoints.set(e.mode, m);
        }
        m.count++;
        m.seconds += e.durationMs / 1000;
        m.hist.observe(e.durationMs / 1000);
        break;
      }
      case "error":
        c.syncErrors++;
        if (e.error.code === "disk_full") c.diskFull = true;
        break;
      case "upload_failed":
        c.uploadErrors++;
        break;
      case "validation": {
        const result = e.error ? "error" : e.ok ? "ok" : "problems";
        c.validations[result]++;
        // A run that could not finish judged nothing: the last verdict stands.
        if (!e.error) c.lastValidation = { at: this.now() / 1000, problems: e.problems.length };
        break;
      }
      case "removed":
        this.dbs.delete(e.db);
        break;
    }
  }

  /** The /metrics body for the databases as they are now. */
  render(views: DatabaseView[]): string {
    const p = new PromText();
    const per = <T>(f: (v: DatabaseView, c: DbCounters) => T | null): Array<[Labels, T]> =>
      views.flatMap((v) => {
        const x = f(v, this.counters(v.db));
        return x === null ? [] : [[{ db: v.db }, x] as [Labels, T]];
      });
    const running = views.filter((v) => v.status !== null);
    const status = (v: DatabaseView) => v.status;

    p.family(
      "litestream_db_size",
      "gauge",
      "Size of the database file in bytes.",
      per((v) => fileSize(v.db)),
    );
    p.family(
      "litestream_wal_size",
      "gauge",
      "Logical WAL length walship has read, in bytes.",
      per((v) => status(v)?.walBytes ?? null),
    );
    p.family(
      "litestream_txid",
      "gauge",
      "Current local TXID.",
      per((v) => (v.status ? Number.parseInt(v.status.txid, 16) : null)),
    );
    p.family(
      "litestream_sync_count",
      "counter",
      "WAL-to-LTX captures that produced a file.",
      per((_v, c) => c.syncs),
    );
    p.family(
      "litestream_sync_error_count",
      "counter",
      "Failed captures, checkpoints or snapshots.",
      per((_v, c) => c.syncErrors),
    );
    p.family(
      "litestream_disk_full",
      "gauge",
      "1 while local staging fails because the disk is full.",
      per((_v, c) => (c.diskFull ? 1 : 0)),
    );
    const ckpt = (f: (m: { count: number; seconds: number }) => number): Array<[Labels, number]> =>
      views.flatMap((v) =>
        [...this.counters(v.db).checkpoints].map(
          ([mode, m]) => [{ db: v.db, mode }, f(m)] as [Labels, number],
        ),
      );
    p.family(
      "litestream_checkpoint_count",
      "counter",
      "Checkpoints run, by mode.",
      ckpt((m) => m.count),
    );
    p.family(
      "litestream_checkpoint_seconds",
      "counter",
      "Time spent in checkpoints, by mode.",
      ckpt((m) => m.seconds),
    );
    p.family(
      "litestream_replica_operation_total",
      "counter",
      "Storage requests by replica type and operation.",
      this.operationTotals(views),
    );

    p.family(
      "walship_databases",
      "gauge",
      "Databases by state (a glob match that is not a WAL database yet waits).",
      (["starting", "waiting", "running", "stopped"] as const).map((s) => [
        { state: s },
        views.filter((v) => v.state === s).length,
      ]),
    );
    p.family(
      "walship_replica_txid",
      "gauge",
      "Highest TXID the replica holds.",
      per((v) => (v.status ? Number.parseInt(v.status.replicaTXID, 16) : null)),
    );
    p.family(
      "walship_replica_lag_seconds",
      "gauge",
      "How long the oldest transaction not yet on the replica has waited (0 = caught up).",
      per((v) => v.status?.lagSeconds ?? null),
    );
    p.family(
      "walship_pending_uploads",
      "gauge",
      "Staged LTX files not yet uploaded.",
      per((v) => v.status?.upload.pending ?? null),
    );
    p.family(
      "walship_wal_file_bytes",
      "gauge",
      "Size of the -wal file on disk.",
      per((v) => fileSize(`${v.db}-wal`)),
    );
    p.family(
      "walship_last_sync_timestamp_seconds",
      "gauge",
      "When the WAL was last read (Unix time).",
      per((v) => (v.status?.lastSyncAt ? v.status.lastSyncAt / 1000 : null)),
    );
    p.family(
      "walship_last_upload_timestamp_seconds",
      "gauge",
      "When a file was last uploaded (Unix time).",
      per((v) => (v.status?.upload.lastUploadAt ? v.status.upload.lastUploadAt / 1000 : null)),
    );
    p.family(
      "walship_storage_requests_total",
      "counter",
      "Storage requests by database and kind.",
      views.flatMap((v) =>
        KINDS.map(
          (k) =>
            [{ db: v.db, replica_type: v.replicaType, kind: k }, v.client.requests[k]] as [Labels, number],
        ),
      ),
    );
    p.family(
      "walship_uploads_total",
      "counter",
      "LTX files uploaded.",
      per((_v, c) => c.uploads),
    );
    p.family(
      "walship_uploaded_bytes_total",
      "counter",
      "Bytes of LTX files uploaded.",
      per((_v, c) => c.uploadedBytes),
    );
    p.family(
      "walship_upload_errors_total",
      "counter",
      "Failed upload attempts (retried).",
      per((_v, c) => c.uploadErrors),
    );
    p.family(
      "walship_snapshots_total",
      "counter",
      "Level-9 snapshots uploaded.",
      per((_v, c) => c.snapshots),
    );
    p.family(
      "walship_validations_total",
      "counter",
      "Periodic validation runs, by result (ok, problems, error = could not finish).",
      views.flatMap((v) =>
        (["ok", "problems", "error"] as const).map(
          (r) => [{ db: v.db, result: r }, this.counters(v.db).validations[r]] as [Labels, number],
        ),
      ),
    );
    p.family(
      "walship_validation_problems",
      "gauge",
      "Problems the last finished validation found in the replica (0 = whole).",
      per((_v, c) => c.lastValidation?.problems ?? null),
    );
    p.family(
      "walship_last_validation_timestamp_seconds",
      "gauge",
      "When the last validation finished (Unix time).",
      per((_v, c) => c.lastValidation?.at ?? null),
    );
    p.family(
      "walship_circuit_breaker_state",
      "gauge",
      "Upload circuit breaker: 1 for the current state.",
      running.flatMap((v) =>
        BREAKER_STATES.map(
          (s) => [{ db: v.db, state: s }, v.status!.upload.breaker === s ? 1 : 0] as [Labels, number],
        ),
      ),
    );
    p.family(
      "walship_consecutive_upload_failures",
      "gauge",
      "Upload failures since the last success.",
      per((v) => v.status?.upload.consecutiveFailures ?? null),
    );
    p.histogram(
      "walship_checkpoint_duration_seconds",
      "Checkpoint durations, by mode.",
      views.flatMap((v) =>
        [...this.counters(v.db).checkpoints].map(
          ([mode, m]) => [{ db: v.db, mode }, m.hist] as [Labels, Histogram],
        ),
      ),
    );
    p.family("walship_scrape_timestamp_seconds", "gauge", "When this page was made (Unix time).", [
      [{}, this.now() / 1000],
    ]);
    return p.toString();
  }

  private operationTotals(views: DatabaseView[]): Array<[Labels, number]> {
    const present = new Set(views.map((v) => v.db));
    for (const [db, last] of this.lastRequests) {
      if (present.has(db)) continue;
      const r = this.retired.get(last.type) ?? { PUT: 0, GET: 0, LIST: 0, DELETE: 0, HEAD: 0 };
      for (const k of KINDS) r[k] += last.requests[k];
      this.retired.set(last.type, r);
      this.lastRequests.delete(db);
    }
    const totals = new Map<string, RequestCounts>();
    for (const [type, r] of this.retired) totals.set(type, { ...r });
    for (const v of views) {
      this.lastRequests.set(v.db, { type: v.replicaType, requests: { ...v.client.requests } });
      const t = totals.get(v.replicaType) ?? { PUT: 0, GET: 0, LIST: 0, DELETE: 0, HEAD: 0 };
      for (const k of KINDS) t[k] += v.client.requests[k];
      totals.set(v.replicaType, t);
    }
    return [...totals].flatMap(([type, r]) =>
      KINDS.map((k) => [{ replica_type: type, operation: k }, r[k]] as [Labels, number]),
    );
  }
}
