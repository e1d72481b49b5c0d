/**
 * Which store events become webhook events, and the JSON body sent. Only failures an operator must act
 * on are sent: a failed sync, rejected credentials, corruption, an open circuit breaker, a full disk.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { WebhookEventName } from "../config/schema.js";
import type { ErrorCode } from "../errors.js";
import type { StoreEvent } from "../store.js";

export interface WebhookPayload {
  /** Unique per event; the same on every retry, so receivers can drop duplicates. */
  id: string;
  event: WebhookEventName;
  db: string;
  /** RFC 3339. */
  time: string;
  message: string;
  code?: string;
  fatal?: boolean;
  host: string;
  pid: number;
}

const CORRUPTION: readonly ErrorCode[] = [
  "ltx_invalid",
  "ltx_checksum",
  "ltx_truncated",
  "lz4",
  "wal_invalid",
  "replica_gap",
];

export function eventNameFor(e: StoreEvent): WebhookEventName | null {
  switch (e.type) {
    case "error":
      if (e.error.code === "storage_auth") return "auth_failure";
      if (e.error.code === "disk_full") return "disk_full";
      if (CORRUPTION.includes(e.error.code)) return "corruption_detected";
      if (e.error.code === "aborted") return null;
      return "sync_failed";
    case "upload_failed":
      return "sync_failed";
    case "breaker":
      return e.state === "open" ? "circuit_breaker_open" : null;
    case "validation":
      return e.problems.length > 0 ? "corruption_detected" : null;
    default:
      return null;
  }
}

export function payloadFor(e: StoreEvent, name: WebhookEventName, now: number): WebhookPayload {
  const base = {
    id: randomUUID(),
    event: name,
    db: e.db,
    time: new Date(now).toISOString(),
    host: hostname(),
    pid: process.pid,
  };
  switch (e.type) {
    case "error":
      return { ...base, message: e.error.oneLine(), code: e.error.code, fatal: e.fatal };
    case "upload_failed":
      return { ...base, message: `upload failed (${e.consecutive} in a row): ${e.message}` };
    case "breaker":
      return {
        ...base,
        message: "upload circuit breaker opened: the replica keeps failing; retrying slowly",
      };
    case "validation":
      return {
        ...base,
        message: `validation found ${e.problems.length} problem(s) in the replica: ${e.problems[0]?.message ?? ""}`,
        code: e.problems.some((p) => p.code === "ltx_invalid") ? "ltx_invalid" : "replica_gap",
      };
    default:
      return { ...base, message: e.type };
  }
}
