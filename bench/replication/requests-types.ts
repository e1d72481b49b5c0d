/**
 * Types of the request-budget result (requests.ts) and the count arithmetic: proxy kinds folded into the
 * kinds walship counts, deltas, per-hour rates, and walship's own counters read from /metrics.
 */
import type { ToolName } from "./config.js";
import type { Counts, KeyClass } from "./proxy.js";
import type { LossResult } from "./verify.js";

export const BUDGET_KINDS = ["PUT", "GET", "LIST", "DELETE", "HEAD", "other"] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];
export type BudgetCounts = Record<BudgetKind, number>;
export type DbRole = "idle" | "busy";

/** Proxy kinds folded into the kinds walship counts: each request of a multipart upload is a PUT; a batch delete or a multipart abort is a DELETE. */
export function normalize(c: Counts): BudgetCounts {
  const n = (k: string) => c[k] ?? 0;
  return {
    PUT: n("PUT") + n("PUT_PART") + n("MPU_CREATE") + n("MPU_COMPLETE"),
    GET: n("GET"),
    LIST: n("LIST"),
    DELETE: n("DELETE") + n("DELETE_BATCH") + n("MPU_ABORT"),
    HEAD: n("HEAD"),
    other: n("OTHER"),
  };
}

export function sub(a: BudgetCounts, b: BudgetCounts): BudgetCounts {
  const out = { ...a };
  for (const k of BUDGET_KINDS) out[k] = a[k] - b[k];
  return out;
}

export function perHour(c: BudgetCounts, ms: number): BudgetCounts {
  const out = { ...c };
  for (const k of BUDGET_KINDS) out[k] = ms > 0 ? Math.round((c[k] * 3_600_000 * 10) / ms) / 10 : 0;
  return out;
}

export interface BudgetDbResult {
  tool: ToolName;
  role: DbRole;
  replica: string;
  /** Tool start until its first object of this database was acknowledged, plus 2 s. */
  startup: BudgetCounts;
  /** The whole measured window, and per key class (list, ltx, lease, other). */
  window: BudgetCounts;
  windowByClass: Record<KeyClass, BudgetCounts>;
  perHour: BudgetCounts;
  perHourAfterWarmup: BudgetCounts;
  perHourAfterWarmupByClass: Record<KeyClass, BudgetCounts>;
  /** SIGTERM to exit. */
  drain: BudgetCounts;
  /** Requests in each minute of the window. */
  perMinute: BudgetCounts[];
  errors: Counts;
  /** walship only: its own counters at the end of the window next to its proxy's count since start. */
  selfCount: { walship: BudgetCounts; proxy: BudgetCounts; agree: boolean } | null;
  loss: LossResult | null;
}

export interface BudgetToolRun {
  tool: ToolName;
  command: string;
  settings: string;
  stop: { code: number | null; signal: string | null; ms: number };
  logTail: string;
}

export interface RequestBudgetResult {
  kind: "walship-bench/requests";
  version: 1;
  name: string;
  description: string;
  rate: number;
  durationMs: number;
  warmupMs: number;
  windowMs: number;
  windowStart: string;
  tools: BudgetToolRun[];
  dbs: BudgetDbResult[];
  writer: { achievedTxPerS: number; targetTxPerS: number; p99BehindMs: number };
  failures: string[];
}

/** `walship_storage_requests_total{db=...,kind=...} N` lines of a /metrics page, by database. */
export function parseWalshipRequests(text: string): Map<string, BudgetCounts> {
  const out = new Map<string, BudgetCounts>();
  for (const line of text.split("\n")) {
    const m = /^walship_storage_requests_total\{(.*)\}\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = new Map([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    const db = labels.get("db") ?? "";
    const kind = labels.get("kind") as BudgetKind | undefined;
    if (!kind || !BUDGET_KINDS.includes(kind)) continue;
    const c = out.get(db) ?? { PUT: 0, GET: 0, LIST: 0, DELETE: 0, HEAD: 0, other: 0 };
    c[kind] += Number(m[2]);
    out.set(db, c);
  }
  return out;
}
