/**
 * FaultyReplicaClient's faults that the chaos harness relies on: a lost acknowledgement stores the file
 * and then fails (the retry must be harmless), a cut-off write stores nothing, a timeout fails after its
 * delay, and every fault is recorded; the same seed makes the same decisions.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { FaultyReplicaClient } from "../../src/replica/faulty.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { tempDir } from "../helpers/db.js";

const dir = tempDir("walship-faulty-");
after(() => rmSync(dir, { recursive: true, force: true }));
const body = () => new Uint8Array(20_000).fill(7);

async function* stream(b: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += 4096) yield b.subarray(i, i + 4096);
}

test("a lost acknowledgement stores the file, then reports a retryable failure", async () => {
  const inner = new FileReplicaClient(join(dir, "lost"));
  const c = new FaultyReplicaClient(inner, 1, { lostAckRate: 1 });
  await assert.rejects(
    c.write(0, 1n, 1n, body(), { timestamp: 1 }),
    (e) => isWalshipError(e, "storage_connection") && e.retryable,
  );
  assert.equal((await inner.list(0)).length, 1, "the file landed");
  assert.equal(c.faults[0]?.kind, "lost-ack");
});

test("a write cut off partway stores nothing", async () => {
  const inner = new FileReplicaClient(join(dir, "cut"));
  const c = new FaultyReplicaClient(inner, 2, { partialWriteRate: 1 });
  await assert.rejects(
    c.write(0, 1n, 1n, stream(body()), { timestamp: 1 }),
    (e) => isWalshipError(e) && e.retryable,
  );
  await assert.rejects(c.write(0, 2n, 2n, body(), { timestamp: 1 }), (e) => isWalshipError(e) && e.retryable);
  assert.deepEqual(await inner.list(0), []);
  assert.deepEqual(
    c.faults.map((f) => f.kind),
    ["partial-write", "partial-write"],
  );
});

test("a timeout fails after its delay", async () => {
  const c = new FaultyReplicaClient(new FileReplicaClient(join(dir, "timeout")), 3, {
    timeoutRate: 1,
    timeoutMs: 5,
  });
  await assert.rejects(
    c.list(0),
    (e) => isWalshipError(e, "storage_connection") && /timeout/.test(e.message),
  );
  assert.equal(c.faults[0]?.kind, "timeout");
});

test("the same seed makes the same decisions", async () => {
  const run = async (seed: number) => {
    const c = new FaultyReplicaClient(
      new FileReplicaClient(join(dir, `seed-${seed}-${Math.random()}`)),
      seed,
      {
        errorRate: 0.3,
        lostAckRate: 0.3,
      },
    );
    const out: string[] = [];
    for (let i = 1; i <= 20; i++) {
      await c.write(0, BigInt(i), BigInt(i), body(), { timestamp: 1 }).then(
        () => out.push("ok"),
        () => out.push("fail"),
      );
    }
    return out.join(",");
  };
  assert.equal(await run(99), await run(99));
});
