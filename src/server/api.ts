/** The JSON the dashboard reads (/api/status): every database's position, sizes, errors and health. */
import { statSync } from "node:fs";
import type { DatabaseView } from "../store.js";
import { assess, type HealthStatus } from "./health.js";

export interface DatabaseStatusJson {
  db: string;
  replica: string;
  replicaType: string;
  state: string;
  /** 16 hex digits, as `walship ltx` prints them; txidDecimal is the same number as in /metrics. */
  txid: string | null;
  txidDecimal: string | null;
  replicaTXID: string | null;
  replicaTXIDDecimal: string | null;
  dbBytes: number;
  walBytes: number | null;
  walFileBytes: number;
  lagSeconds: number | null;
  pendingUploads: number | null;
  breaker: string | null;
  lastSyncAt: number | null;
  lastUploadAt: number | null;
  lastError: { message: string; at: number } | null;
  health: { status: HealthStatus; reason: string };
}

export interface StatusJson {
  now: number;
  pid: number;
  health: HealthStatus;
  databases: DatabaseStatusJson[];
}

function size(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

const dec = (hex: string | undefined) => (hex === undefined ? null : BigInt(`0x${hex}`).toString());

export function statusJson(views: DatabaseView[], now: number): StatusJson {
  const health = assess(views, now);
  return {
    now,
    pid: process.pid,
    health: health.status,
    databases: views.map((v, i) => {
      const s = v.status;
      const h = health.databases[i]!;
      return {
        db: v.db,
        replica: v.replica,
        replicaType: v.replicaType,
        state: v.state,
        txid: s?.txid ?? null,
        txidDecimal: dec(s?.txid),
        replicaTXID: s?.replicaTXID ?? null,
        replicaTXIDDecimal: dec(s?.replicaTXID),
        dbBytes: size(v.db),
        walBytes: s?.walBytes ?? null,
        walFileBytes: size(`${v.db}-wal`),
        lagSeconds: s?.lagSeconds ?? null,
        pendingUploads: s?.upload.pending ?? null,
        breaker: s?.upload.breaker ?? null,
        lastSyncAt: s?.lastSyncAt ?? null,
        lastUploadAt: s?.upload.lastUploadAt ?? null,
        lastError: v.lastError ? { message: v.lastError.message, at: v.lastError.at } : null,
        health: { status: h.status, reason: h.reason },
      };
    }),
  };
}
