/**
 * The lease protocol over an in-memory compare-and-swap store, for what a real store cannot be made to do
 * on demand: a write that lands but whose response is lost (the retry then fails its condition and must
 * recognise its own record), and a storage error during renewal (not a loss until the lease runs out).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isWalshipError, WalshipError } from "../../src/errors.js";
import { LeaseKeeper } from "../../src/lease/keeper.js";
import { type LeaseStore, type StoredLease, StoreLease } from "../../src/lease/lease.js";
import { ManualClock } from "./backends.js";

class MemoryStore implements LeaseStore {
  readonly location = "mem://lock.json";
  cur: StoredLease | null = null;
  private n = 0;
  /** The next write is applied, then reported as a conflict (as a retried request would see it). */
  loseNextResponse = false;
  failNext: WalshipError | null = null;

  private check(): void {
    const e = this.failNext;
    this.failNext = null;
    if (e) throw e;
  }

  private applied(text: string): string | null {
    this.cur = { text, version: `v${++this.n}` };
    if (this.loseNextResponse) {
      this.loseNextResponse = false;
      return null;
    }
    return this.cur.version;
  }

  async read(): Promise<StoredLease | null> {
    return this.cur;
  }
  async create(text: string): Promise<string | null> {
    this.check();
    return this.cur ? null : this.applied(text);
  }
  async replace(text: string, version: string): Promise<string | null> {
    this.check();
    return this.cur?.version === version ? this.applied(text) : null;
  }
  async remove(version: string): Promise<boolean> {
    this.check();
    if (this.cur?.version !== version) return false;
    this.cur = null;
    return true;
  }
}

const outage = () => new WalshipError("storage_connection", "connection reset", { retryable: true });

describe("lease protocol", () => {
  it("a create whose response was lost is recognised as ours", async () => {
    const store = new MemoryStore();
    const lease = new StoreLease(store, { owner: "a:1" });
    store.loseNextResponse = true;
    await lease.acquire();
    assert.equal(lease.holder?.owner, "a:1");
    assert.equal(store.cur?.version, "v2", "adopted by replacing its own record");
  });

  it("a renewal whose response was lost is recognised as ours", async () => {
    const store = new MemoryStore();
    const lease = new StoreLease(store, { owner: "a:1" });
    await lease.acquire();
    store.loseNextResponse = true;
    await lease.renew();
    assert.equal(lease.holder?.owner, "a:1");
    await lease.release();
    assert.equal(store.cur, null);
  });

  it("a release whose response was lost still removes only our record", async () => {
    const store = new MemoryStore();
    const lease = new StoreLease(store, { owner: "a:1" });
    await lease.acquire();
    store.failNext = outage();
    await assert.rejects(lease.release());
    assert.ok(store.cur, "still there after the failed delete");
    const other = new StoreLease(store, { owner: "b:2", clock: new ManualClock(Date.now() + 60_000) });
    await other.acquire();
    await lease.release(); // nothing held any more
    assert.match(store.cur!.text, /b:2/);
  });

  it("storage errors during renewal hold writes back; the lease is lost only when another writer took it", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const lease = new StoreLease(store, { owner: "a:1", clock, ttlMs: 30_000 });
    await lease.acquire();
    const lost: WalshipError[] = [];
    const keeper = new LeaseKeeper(lease, (e) => lost.push(e), clock);
    clock.t += 10_000;
    store.failNext = outage();
    await keeper.renewNow();
    assert.equal(lost.length, 0);
    clock.t += 10_000;
    await keeper.renewNow(); // succeeds: the lease is extended from now
    clock.t += 20_000;
    keeper.guard("write");
    clock.t += 10_000;
    store.failNext = outage();
    await keeper.renewNow();
    assert.equal(lost.length, 0, "past validUntil, but nobody took the record: not lost");
    assert.throws(
      () => keeper.guard("write"),
      (e) => isWalshipError(e, "replica_conflict") && e.retryable,
      "writes are held back while expired",
    );
    // Another writer takes the expired lease: our conditional renewal now fails, and that is a loss.
    const other = new StoreLease(store, { owner: "b:2", clock, ttlMs: 30_000 });
    await other.acquire();
    await keeper.renewNow();
    assert.equal(lost.length, 1, "someone else holds the record: lost");
    assert.ok(isWalshipError(lost[0], "replica_conflict"));
    assert.throws(
      () => keeper.guard("write"),
      (e) => isWalshipError(e, "replica_conflict") && !e.retryable,
    );
  });

  it("acquire honours its AbortSignal while waiting for expiry", async () => {
    const store = new MemoryStore();
    await new StoreLease(store, { owner: "a:1" }).acquire();
    const ac = new AbortController();
    ac.abort();
    const waiting = new StoreLease(store, { owner: "b:2", waitForExpiry: true });
    await assert.rejects(waiting.acquire(ac.signal), (e) => isWalshipError(e, "aborted"));
  });
});
