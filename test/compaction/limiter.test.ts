/**
 * The process-wide limiter: never more than max at once, first come first served (a heavy job is not
 * overtaken), aborts leave the queue.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { Limiter } from "../../src/limiter.js";

const tick = () => new Promise((r) => setImmediate(r));

test("at most max run at once, in arrival order", async () => {
  const l = new Limiter(2);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const gates: Array<() => void> = [];
  const jobs = Array.from({ length: 6 }, (_, i) =>
    l.run(async () => {
      order.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise<void>((r) => gates.push(r));
      running--;
      return i;
    }),
  );
  for (let k = 0; k < 6; k++) {
    await tick();
    assert.ok(running <= 2);
    gates.shift()?.();
  }
  assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  assert.equal(most, 2);
  assert.deepEqual(l.stats, { used: 0, running: 0, waiting: 0 });
});

test("a failing job frees its slot; an aborted wait leaves the queue and runs nothing", async () => {
  const l = new Limiter(1);
  let release!: () => void;
  const first = l.run(() => new Promise<void>((r) => (release = r)));
  const ac = new AbortController();
  let ran = false;
  const waiting = l.run(
    async () => {
      ran = true;
    },
    { signal: ac.signal },
  );
  const failing = l.run(async () => {
    throw new Error("boom");
  });
  await tick();
  assert.deepEqual(l.stats, { used: 1, running: 1, waiting: 2 });
  ac.abort();
  await assert.rejects(waiting, (e) => isWalshipError(e, "aborted"));
  assert.deepEqual(l.stats, { used: 1, running: 1, waiting: 1 });
  release();
  await first;
  await assert.rejects(failing, /boom/);
  assert.equal(ran, false);
  assert.deepEqual(l.stats, { used: 0, running: 0, waiting: 0 });
  assert.equal(await l.run(async () => 7), 7);
});

test("weights: a byte budget, no overtaking, an oversized job runs alone", async () => {
  const l = new Limiter(100);
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  const job = (name: string, weight: number) =>
    l.run(
      async () => {
        log.push(`start ${name}`);
        await new Promise<void>((r) => gates.set(name, r));
        log.push(`end ${name}`);
      },
      { weight },
    );
  const a = job("a", 60);
  const b = job("b", 50); // does not fit beside a
  const c = job("c", 10); // would fit, but b is first
  const d = job("d", 500); // more than the limit: alone
  await tick();
  assert.deepEqual(log, ["start a"]);
  assert.deepEqual(l.stats, { used: 60, running: 1, waiting: 3 });
  gates.get("a")!();
  await a;
  await tick();
  assert.deepEqual(log.slice(2), ["start b", "start c"]);
  gates.get("b")!();
  gates.get("c")!();
  await Promise.all([b, c]);
  await tick();
  assert.equal(log.at(-1), "start d");
  assert.deepEqual(l.stats, { used: 100, running: 1, waiting: 0 });
  gates.get("d")!();
  await d;
  assert.deepEqual(l.stats, { used: 0, running: 0, waiting: 0 });
});
