/**
 * Single-writer lease on a replica path (litestream-v05.md §8, §17 item 1). Litestream's `replicate` takes
 * none, so two instances interleave TXIDs and can make a replica unrestorable; walship takes one before its
 * first write and stops replicating if it loses it.
 *
 * The protocol is the same on every backend, over a compare-and-swap store (LeaseStore):
 * - acquire: no record → create it (exclusive create); a live record of someone else → replica_conflict
 *   naming the holder; an expired record, or one whose holder is provably dead on this machine → replace
 *   it conditionally on the version read (generation + 1). Losing a race re-reads and decides again.
 * - renew: replace our record (new expires_at) conditionally on our version; a failed condition = lost.
 * - release: conditional delete of our version.
 * A response lost after the store applied a write makes the retry fail its condition; the record then
 * carries our `instance`, so it is recognised as ours and adopted.
 */
import { type Clock, systemClock } from "../clock.js";
import { throwIfAborted, WalshipError } from "../errors.js";
import { holderIsAliveHere, holderIsDeadHere, type Identity, newIdentity } from "./identity.js";
import {
  encodeRecord,
  expiresAtMs,
  heldByOther,
  type LeaseRecord,
  leaseLost,
  parseRecord,
  unreadableLease,
} from "./record.js";

/** Lease time to live in ms: Litestream's leaser default; long enough to ride out a GC pause or a slow PUT. */
export const DEFAULT_LEASE_TTL_MS = 30_000;
/** Renew after this fraction of the TTL, so two renewals can fail before the lease runs out. */
export const LEASE_RENEW_FRACTION = 1 / 3;
/** Tries to resolve a create/takeover race before giving up (each try is one read and one write). */
const ACQUIRE_ATTEMPTS = 5;

export function renewIntervalMs(ttlMs: number): number {
  return Math.max(1, Math.floor(ttlMs * LEASE_RENEW_FRACTION));
}

export interface Lease {
  /** Takes the lease or throws replica_conflict naming the holder. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Extends the lease; throws replica_conflict when it was lost, a retryable error when the store failed. */
  renew(): Promise<void>;
  /** Gives the lease up (conditionally: a lease already taken over is left alone). */
  release(): Promise<void>;
  /** The record we hold, or null. */
  readonly holder: LeaseRecord | null;
  /** ms since the epoch until which the lease is ours by our own clock (0 when not held). */
  readonly validUntil: number;
  /** Printable location of the lease object. */
  readonly location: string;
  readonly ttlMs: number;
}

/** A version is opaque: the S3 ETag, or the file's whole content. */
export interface StoredLease {
  text: string;
  version: string;
}

/** Compare-and-swap over one small object. Conflicts are null/false; other failures throw. */
export interface LeaseStore {
  readonly location: string;
  read(signal?: AbortSignal): Promise<StoredLease | null>;
  create(text: string, signal?: AbortSignal): Promise<string | null>;
  replace(text: string, version: string, signal?: AbortSignal): Promise<string | null>;
  remove(version: string, signal?: AbortSignal): Promise<boolean>;
}

export interface LeaseOptions {
  ttlMs?: number;
  clock?: Clock;
  /** Holder name written to the record (default "host:pid"). */
  owner?: string;
  /**
   * Wait for a live holder's lease to expire instead of failing (for supervisors that restart a writer
   * while the old one may still be shutting down). Default false: a second writer fails at once.
   */
  waitForExpiry?: boolean;
  /**
   * Stop renewing after this long (ms) without a replica write, and renew again just before the next one
   * (default IDLE_LAPSE_AFTER_MS; 0 renews for as long as replication runs). An idle database then costs
   * no PUT. While the lease is lapsed, a writer on another machine may take it over; this one then stops
   * with replica_conflict at its next write. A writer on the same machine is still refused (its holder is
   * seen alive).
   */
  idleLapseMs?: number;
}

/**
 * Renewals stop after a minute without a replica write: 6 PUTs for the lease after the last upload, then
 * none (a renewal every 10 s would cost 360 PUTs an hour for every idle database).
 */
export const IDLE_LAPSE_AFTER_MS = 60_000;

export class StoreLease implements Lease {
  readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly id: Identity;
  private readonly wait: boolean;
  private held: { record: LeaseRecord; version: string; validUntil: number } | null = null;

  constructor(
    private readonly store: LeaseStore,
    opts: LeaseOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs <= 0) {
      throw new WalshipError("usage", `lease TTL must be a positive duration, got ${this.ttlMs} ms`);
    }
    this.clock = opts.clock ?? systemClock;
    this.id = newIdentity(opts.owner);
    this.wait = opts.waitForExpiry ?? false;
  }

  get location(): string {
    return this.store.location;
  }

  get holder(): LeaseRecord | null {
    return this.held?.record ?? null;
  }

  get validUntil(): number {
    return this.held?.validUntil ?? 0;
  }

  private record(generation: number, now: number): LeaseRecord {
    const r: LeaseRecord = {
      generation,
      expires_at: new Date(now + this.ttlMs).toISOString(),
      owner: this.id.owner,
      instance: this.id.instance,
    };
    if (this.id.process) r.process = this.id.process;
    return r;
  }

  private ours(r: LeaseRecord | null): boolean {
    return r !== null && r.instance === this.id.instance;
  }

  /**
   * Our clock, read *before* the write: the store cannot have stamped the expiry earlier than that, so
   * the lease is certainly ours until now + TTL.
   */
  private take(record: LeaseRecord, version: string, startedAt: number): void {
    this.held = { record, version, validUntil: startedAt + this.ttlMs };
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS; ) {
      throwIfAborted(signal, "acquire lease");
      const now = this.clock.now();
      const cur = await this.store.read(signal);
      if (cur === null) {
        const rec = this.record(1, now);
        const v = await this.store.create(encodeRecord(rec), signal);
        if (v !== null) return this.take(rec, v, now);
        attempt++;
        continue;
      }
      const r = parseRecord(cur.text);
      if (r === null) throw unreadableLease(this.location, cur.text);
      // An expired record of a holder still running on this machine (an idle walship whose lease lapsed)
      // is not free: two writers on one box are refused whether or not the first is busy.
      const expired = expiresAtMs(r) <= now && !holderIsAliveHere(r.process);
      const free = this.ours(r) || expired || holderIsDeadHere(r.process);
      if (!free) {
        if (!this.wait) throw heldByOther(this.location, r, this.ttlMs);
        await this.clock.sleep(Math.max(1, expiresAtMs(r) - now + 1), signal);
        continue;
      }
      const rec = this.record(this.ours(r) ? r.generation : r.generation + 1, now);
      const v = await this.store.replace(encodeRecord(rec), cur.version, signal);
      if (v !== null) return this.take(rec, v, now);
      attempt++;
    }
    const last = await this.store.read(signal);
    const r = last ? parseRecord(last.text) : null;
    if (r && !this.ours(r)) throw heldByOther(this.location, r, this.ttlMs);
    throw new WalshipError("replica_conflict", `could not take the lease on ${this.location}`, {
      op: "acquire lease",
      context: { path: this.location },
      hint: "other writers keep racing for it; make sure only one walship replicates to this path",
      retryable: true,
    });
  }

  async renew(): Promise<void> {
    const h = this.held;
    if (!h) throw leaseLost(this.location, null);
    const now = this.clock.now();
    const rec = { ...this.record(h.record.generation, now) };
    const v = await this.store.replace(encodeRecord(rec), h.version);
    if (v !== null) return this.take(rec, v, now);
    // The condition failed: either someone took over, or our own write landed and its response was lost.
    const cur = await this.store.read();
    const r = cur ? parseRecord(cur.text) : null;
    if (cur && r && this.ours(r)) return this.take(r, cur.version, now);
    this.held = null;
    throw leaseLost(this.location, r);
  }

  async release(): Promise<void> {
    const h = this.held;
    if (!h) return;
    this.held = null;
    if (await this.store.remove(h.version)) return;
    // A lost response to our own delete, or a successor's record: only ever remove our own.
    const cur = await this.store.read();
    if (cur && this.ours(parseRecord(cur.text))) await this.store.remove(cur.version);
  }
}
