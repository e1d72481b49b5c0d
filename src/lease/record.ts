/**
 * The lease record, in Litestream's library format (`s3/leaser.go`, litestream-v05.md §8):
 *
 *   {"generation":N,"expires_at":"RFC3339","owner":"host:pid"}
 *
 * walship adds two optional fields that Go's JSON decoder ignores: `instance` (a random id per Lease
 * object, so a holder recognises its own record even after a lost response or in a second Replicator of
 * the same process) and `process` (boot id, pid namespace, pid and start time on Linux, so a holder on the
 * same machine that was killed is recognised as dead and taken over at once instead of after the TTL).
 */
import { WalshipError } from "../errors.js";

export interface LeaseRecord {
  generation: number;
  /** RFC 3339 with milliseconds, UTC. */
  expires_at: string;
  /** "host:pid", as Litestream writes it. */
  owner: string;
  instance?: string;
  process?: string;
}

export function encodeRecord(r: LeaseRecord): string {
  return `${JSON.stringify(r)}\n`;
}

/** null when the text is not a lease record (a foreign or damaged object). */
export function parseRecord(text: string): LeaseRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.generation !== "number" || !Number.isSafeInteger(o.generation) || o.generation < 0)
    return null;
  if (typeof o.expires_at !== "string" || Number.isNaN(Date.parse(o.expires_at))) return null;
  if (typeof o.owner !== "string") return null;
  const r: LeaseRecord = { generation: o.generation, expires_at: o.expires_at, owner: o.owner };
  if (typeof o.instance === "string") r.instance = o.instance;
  if (typeof o.process === "string") r.process = o.process;
  return r;
}

export function expiresAtMs(r: LeaseRecord): number {
  return Date.parse(r.expires_at);
}

/** "host:pid until 2025-01-01T00:00:30.000Z (generation 3)": how errors name a holder. */
export function describeHolder(r: LeaseRecord): string {
  return `${r.owner || "an unnamed holder"} until ${r.expires_at} (generation ${r.generation})`;
}

/** The error a second writer gets; exit code 1 (general) through exitCodeFor. */
export function heldByOther(location: string, r: LeaseRecord, ttlMs: number): WalshipError {
  return new WalshipError("replica_conflict", `replica ${location} is held by ${describeHolder(r)}`, {
    op: "acquire lease",
    context: { path: location, owner: r.owner, expiresAt: r.expires_at, generation: r.generation },
    hint: `another walship is replicating to this path: stop it, or use another replica path; if it died, its lease expires ${Math.round(ttlMs / 1000)} s after its last renewal and is then taken over`,
  });
}

export function unreadableLease(location: string, text: string): WalshipError {
  const head = text.slice(0, 80).replace(/\s+/g, " ");
  return new WalshipError("replica_conflict", `lease object ${location} is not a lease record: "${head}"`, {
    op: "acquire lease",
    context: { path: location },
    hint: "something else wrote that object; if no walship or Litestream is replicating there, delete it",
  });
}

export function leaseLost(location: string, by: LeaseRecord | null): WalshipError {
  const who = by ? ` to ${describeHolder(by)}` : "";
  return new WalshipError("replica_conflict", `lost the lease on ${location}${who}`, {
    op: "renew lease",
    context: { path: location, owner: by?.owner },
    hint: "another writer took over the replica (this process was paused or cut off past the TTL); replication stopped so the two cannot interleave, restart once the other writer is gone",
  });
}
