/**
 * /health: one verdict per database, with the reason, and the worst of them for the process. healthy and
 * degraded answer HTTP 200 (the process is doing its job, perhaps slowly); unhealthy answers 503 so a
 * load balancer or orchestrator acts on it.
 */
import type { DatabaseView } from "../store.js";

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

/** Lag (s) above which a database is degraded: several sync intervals, so one slow PUT does not flap it. */
export const DEGRADED_LAG_SECONDS = 30;
/** Lag (s) above which it is unhealthy: five minutes of commits would be lost if the host died now. */
export const UNHEALTHY_LAG_SECONDS = 300;
/** An error this recent (ms) keeps a database degraded, so a short blip is still visible to a poller. */
export const RECENT_ERROR_MS = 60_000;
/** The WAL must have been read within this many sync intervals, else capture is stuck. */
const STALE_SYNC_INTERVALS = 10;
/** ...and never less than this (ms), so a busy event loop under load does not flap the verdict. */
const STALE_SYNC_MIN_MS = 30_000;

export interface DatabaseHealth {
  db: string;
  status: HealthStatus;
  reason: string;
}

export interface HealthReport {
  status: HealthStatus;
  databases: DatabaseHealth[];
}

const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

export function assessDatabase(v: DatabaseView, now: number): DatabaseHealth {
  const verdict = (status: HealthStatus, reason: string) => ({ db: v.db, status, reason });
  if (v.fatal) return verdict("unhealthy", `replication stopped: ${v.fatal.oneLine()}`);
  if (v.state === "stopped") return verdict("unhealthy", "replication stopped");
  if (v.state === "starting") return verdict("degraded", "starting");
  if (v.state === "waiting" || !v.status) {
    return verdict("degraded", `not replicating yet${v.lastError ? `: ${v.lastError.message}` : ""}`);
  }
  const s = v.status;
  const u = s.upload;
  if (u.breaker === "open") {
    return verdict(
      "unhealthy",
      `uploads failing (${u.consecutiveFailures} in a row): ${u.lastError ?? "unknown error"}`,
    );
  }
  if (s.lagSeconds >= UNHEALTHY_LAG_SECONDS) {
    return verdict("unhealthy", `replica ${s.lagSeconds.toFixed(0)}s behind`);
  }
  const staleAfter = Math.max(STALE_SYNC_MIN_MS, STALE_SYNC_INTERVALS * v.settings.syncIntervalMs);
  if (s.lastSyncAt !== null && now - s.lastSyncAt > staleAfter) {
    return verdict("unhealthy", `WAL not read for ${((now - s.lastSyncAt) / 1000).toFixed(0)}s`);
  }
  if (u.consecutiveFailures > 0)
    return verdict("degraded", `uploads retrying: ${u.lastError ?? "unknown error"}`);
  if (s.lagSeconds >= DEGRADED_LAG_SECONDS)
    return verdict("degraded", `replica ${s.lagSeconds.toFixed(0)}s behind`);
  if (v.lastError && now - v.lastError.at < RECENT_ERROR_MS) {
    return verdict("degraded", `recent error: ${v.lastError.message}`);
  }
  return verdict("healthy", `replica at TXID ${s.replicaTXID}`);
}

export function assess(views: DatabaseView[], now: number): HealthReport {
  const databases = views.map((v) => assessDatabase(v, now));
  if (databases.length === 0) return { status: "degraded", databases };
  const status = databases.reduce<HealthStatus>(
    (w, d) => (RANK[d.status] > RANK[w] ? d.status : w),
    "healthy",
  );
  return { status, databases };
}

export function httpStatusFor(h: HealthStatus): number {
  return h === "unhealthy" ? 503 : 200;
}
