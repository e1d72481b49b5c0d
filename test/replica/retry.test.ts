/** The inner retry loop: full-jitter backoff, only retryable errors, AbortSignal. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isWalshipError, WalshipError } from "../../src/errors.js";
import { backoffDelay, mapLimit, sleep, withRetry } from "../../src/replica/retry.js";

const retryable = () => new WalshipError("storage_connection", "blip", { retryable: true });

describe("withRetry", () => {
  it("retries retryable errors with exponential full-jitter backoff, then succeeds", async () => {
    const delays: number[] = [];
    let calls = 0;
    const out = await withRetry(
      async (attempt) => {
        calls++;
        assert.equal(attempt, calls);
        if (calls < 3) throw retryable();
        return "ok";
      },
      {
        attempts: 3,
        baseDelayMs: 100,
        maxDelayMs: 10_000,
        sleep: async (ms) => void delays.push(ms),
        random: () => 0.999,
      },
    );
    assert.equal(out, "ok");
    assert.deepEqual(delays, [99, 199]);
  });

  it("throws the last error when attempts run out", async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw retryable();
        },
        { attempts: 4, sleep: async () => {} },
      ),
      (e: unknown) => isWalshipError(e, "storage_connection"),
    );
    assert.equal(calls, 4);
  });

  it("does not retry errors that are not retryable", async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw new WalshipError("storage_auth", "denied");
        },
        { attempts: 5, sleep: async () => {} },
      ),
      (e: unknown) => isWalshipError(e, "storage_auth"),
    );
    await assert.rejects(
      withRetry(async () => Promise.reject(new Error("plain")), { attempts: 5, sleep: async () => {} }),
      /plain/,
    );
    assert.equal(calls, 1);
  });

  it("stops with code aborted when the signal fires, before or during the backoff", async () => {
    await assert.rejects(
      withRetry(async () => 1, { signal: AbortSignal.abort() }),
      (e: unknown) => isWalshipError(e, "aborted"),
    );
    const ac = new AbortController();
    const t0 = Date.now();
    const p = withRetry(
      async () => {
        throw retryable();
      },
      { attempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.9, signal: ac.signal },
    );
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, (e: unknown) => isWalshipError(e, "aborted"));
    assert.ok(Date.now() - t0 < 2_000);
  });

  it("caps the delay at maxDelayMs", () => {
    assert.equal(
      backoffDelay(1, 100, 2_000, () => 0.5),
      50,
    );
    assert.equal(
      backoffDelay(2, 100, 2_000, () => 0.5),
      100,
    );
    assert.equal(
      backoffDelay(10, 100, 2_000, () => 0.5),
      1_000,
    );
    assert.equal(
      backoffDelay(10, 100, 2_000, () => 0),
      0,
    );
  });

  it("sleep resolves, and rejects on abort", async () => {
    await sleep(1);
    await assert.rejects(sleep(10_000, AbortSignal.abort()), (e: unknown) => isWalshipError(e, "aborted"));
  });
});

describe("mapLimit", () => {
  it("keeps order, bounds concurrency, and fails fast", async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (x) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, x));
      active--;
      return x * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
    assert.equal(peak, 2);
    let started = 0;
    await assert.rejects(
      mapLimit([1, 2, 3, 4, 5, 6], 1, async (x) => {
        started++;
        if (x === 2) throw new Error("boom");
        return x;
      }),
      /boom/,
    );
    assert.equal(started, 2);
    assert.deepEqual(await mapLimit([], 4, async (x) => x), []);
  });
});
