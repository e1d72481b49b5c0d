/**
 * Keeps a held lease alive: renews every TTL/3 and reports loss once. A renewal that fails with a storage
 * error is retried at the next interval. Once our own clock passes validUntil without a successful
 * renewal, another writer may legitimately take the lease, so writes stop; but the lease is lost only when
 * a renewal proves someone else took it. A renewal is a conditional replace of our own record's version, so
 * if it succeeds after an outage nobody wrote the record meanwhile (a successor must take the record before
 * it writes replica data), and writes resume: a storage outage longer than the TTL does not end replication.
 *
 * ready() is the fence for writes: it renews first when the lease is near its end (after an idle lapse),
 * then guard() throws when the lease is lost or close to running out, so a process that was paused
 * (SIGSTOP, a long GC, a suspended VM) does not upload after a successor took over.
 */
import { type Clock, systemClock } from "../clock.js";
import { isWalshipError, WalshipError } from "../errors.js";
import { type Lease, renewIntervalMs } from "./lease.js";

/** Writes stop this fraction of the TTL before the lease runs out: room for an in-flight PUT to land. */
export const LEASE_WRITE_MARGIN_FRACTION = 1 / 6;

export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  private lost: WalshipError | null = null;
  private renewing: Promise<void> | null = null;
  private readonly clock: Clock;

  private lastWriteAt: number;

  /** `idleLapseMs` > 0: renewals pause after that long without a write (see LeaseOptions.idleLapseMs). */
  constructor(
    readonly lease: Lease,
    private readonly onLost: (e: WalshipError) => void,
    clock: Clock = systemClock,
    private readonly idleLapseMs = 0,
  ) {
    this.clock = clock;
    this.lastWriteAt = clock.now();
  }

  get lostError(): WalshipError | null {
    return this.lost;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.idleLapseMs > 0 && this.clock.now() - this.lastWriteAt > this.idleLapseMs) return;
      void this.renewNow();
    }, renewIntervalMs(this.lease.ttlMs));
    this.timer.unref?.();
  }

  /** One renewal now (also what the timer runs); resolves whether or not it succeeded. */
  renewNow(): Promise<void> {
    if (this.lost) return Promise.resolve();
    this.renewing ??= this.lease
      .renew()
      .catch((e: unknown) => {
        if (isWalshipError(e, "replica_conflict")) return this.markLost(e);
        // Otherwise a storage hiccup: the next interval retries; guard() holds writes back meanwhile.
      })
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  /**
   * Before a write: renews first when the lease is close to its end (after an idle lapse, or renewals
   * that failed), then applies guard(). A lapsed lease that another writer took meanwhile is lost here.
   */
  async ready(op: string): Promise<void> {
    this.lastWriteAt = this.clock.now();
    if (this.lost) throw this.lost;
    if (this.nearEnd()) await this.renewNow();
    this.guard(op);
  }

  /** Throws when writing now could interleave with another writer. */
  guard(op: string): void {
    if (this.lost) throw this.lost;
    if (this.nearEnd()) {
      const expired = this.clock.now() >= this.lease.validUntil;
      throw new WalshipError(
        "replica_conflict",
        `lease on ${this.lease.location} ${expired ? "expired" : "is about to expire"}`,
        {
          op,
          context: { path: this.lease.location },
          hint: "renewals are failing (see the storage errors); writes resume once one succeeds, unless another writer took the lease",
          retryable: true,
        },
      );
    }
  }

  /** Inside the write margin before validUntil, or past it. */
  private nearEnd(): boolean {
    return this.clock.now() >= this.lease.validUntil - this.lease.ttlMs * LEASE_WRITE_MARGIN_FRACTION;
  }

  private markLost(e: WalshipError): void {
    if (this.lost) return;
    this.lost = e;
    this.stopTimer();
    this.onLost(e);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops renewing and releases the lease (unless it was lost). */
  async stop(): Promise<void> {
    this.stopTimer();
    await this.renewing;
    if (!this.lost) await this.lease.release();
  }
}
