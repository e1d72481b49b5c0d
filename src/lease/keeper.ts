/**
 * Keeps a held lease alive: renews every TTL/3 and reports loss once. A renewal that fails with a storage
 * error is retried at the next interval; the lease counts as lost as soon as our own clock passes its
 * validUntil without a successful renewal, because from then on another writer may legitimately take it.
 *
 * guard() is the fence for writes: it throws when the lease is lost or close to running out, so a process
 * that was paused (SIGSTOP, a long GC, a suspended VM) does not upload after a successor took over.
 */
import { type Clock, systemClock } from "../clock.js";
import { isWalshipError, WalshipError } from "../errors.js";
import { type Lease, renewIntervalMs } from "./lease.js";
import { leaseLost } from "./record.js";

/** Writes stop this fraction of the TTL before the lease runs out: room for an in-flight PUT to land. */
export const LEASE_WRITE_MARGIN_FRACTION = 1 / 6;

export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  private lost: WalshipError | null = null;
  private renewing: Promise<void> | null = null;
  private readonly clock: Clock;

  constructor(
    readonly lease: Lease,
    private readonly onLost: (e: WalshipError) => void,
    clock: Clock = systemClock,
  ) {
    this.clock = clock;
  }

  get lostError(): WalshipError | null {
    return this.lost;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renewNow(), renewIntervalMs(this.lease.ttlMs));
    this.timer.unref?.();
  }

  /** One renewal now (also what the timer runs); resolves whether or not it succeeded. */
  renewNow(): Promise<void> {
    if (this.lost) return Promise.resolve();
    this.renewing ??= this.lease
      .renew()
      .catch((e: unknown) => {
        if (isWalshipError(e, "replica_conflict")) return this.markLost(e);
        if (this.clock.now() >= this.lease.validUntil) this.markLost(leaseLost(this.lease.location, null));
        // Otherwise a storage hiccup: the lease is still ours for a while; the next interval retries.
      })
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  /** Throws when writing now could interleave with another writer. */
  guard(op: string): void {
    if (this.lost) throw this.lost;
    const margin = this.lease.ttlMs * LEASE_WRITE_MARGIN_FRACTION;
    if (this.clock.now() >= this.lease.validUntil - margin) {
      if (this.clock.now() >= this.lease.validUntil) {
        this.markLost(leaseLost(this.lease.location, null));
        throw this.lost!;
      }
      throw new WalshipError("replica_conflict", `lease on ${this.lease.location} is about to expire`, {
        op,
        context: { path: this.lease.location },
        hint: "renewals are failing (see the storage errors); writes resume once one succeeds",
        retryable: true,
      });
    }
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
