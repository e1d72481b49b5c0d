/** The process-wide limiter: never more than max at once, first come first served, aborts leave the queue. */
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
  assert.deepEqual(l.stats, { active: 0, waiting: 0 });
});

test("a failing job frees its slot; an aborted wait leaves the queue and runs nothing", async () => {
  const l = new Limiter(1);
  let release!: () => void;
  const first = l.run(() => new Promise<void>((r) => (release = r)));
  const ac = new AbortController();
  let ran = false;
  const waiting = l.run(async () => {
    ran = true;
  }, ac.signal);
  const failing = l.run(async () => {
    throw new Error("boom");
  });
  await tick();
  assert.deepEqual(l.stats, { active: 1, waiting: 2 });
  ac.abort();
  await assert.rejects(waiting, (e) => isWalshipError(e, "aborted"));
  assert.deepEqual(l.stats, { active: 1, waiting: 1 });
  release();
  await first;
  await assert.rejects(failing, /boom/);
  assert.equal(ran, false);
  assert.deepEqual(l.stats, { active: 0, waiting: 0 });
  assert.equal(await l.run(async () => 7), 7);
});
