/**
 * The uploader over a real file backend wrapped in the fault injector: ordered uploads, backoff and the
 * circuit breaker while the store is down, catch-up afterwards, fatal errors for rejected credentials.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { Clock } from "../../src/clock.js";
import { Staging } from "../../src/db/staging.js";
import { WalshipError } from "../../src/errors.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import { HEADER_FLAG_NO_CHECKSUM } from "../../src/ltx/header.js";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FaultyReplicaClient } from "../../src/replica/faulty.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { BREAKER_COOLDOWN_MS, BREAKER_THRESHOLD, Uploader } from "../../src/upload/uploader.js";
import { tempDir } from "../helpers/db.js";

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

function fakeClock(): Clock & { t: number } {
  const c = {
    t: 1_000_000,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

async function stage(staging: Staging, txid: bigint): Promise<void> {
  const page = new Uint8Array(512).fill(Number(txid % 251n));
  const { bytes } = encodeLtx(
    {
      flags: HEADER_FLAG_NO_CHECKSUM,
      pageSize: 512,
      commit: 1,
      minTXID: txid,
      maxTXID: txid,
      timestamp: 1000n + txid,
      preApplyChecksum: 0n,
      walOffset: 0n,
      walSize: 0n,
      walSalt1: 0,
      walSalt2: 0,
      nodeID: 0n,
    },
    txid === 1n ? [{ pgno: 1, data: page }] : [{ pgno: 1, data: page }],
  );
  await staging.write(txid, txid, [bytes]);
}

test("uploads staged files in TXID order and keeps only the newest staged file", async () => {
  const sub = join(dir, "order");
  const staging = new Staging(join(sub, "meta"));
  staging.ensure();
  for (let t = 1n; t <= 5n; t++) await stage(staging, t);
  const client = new FileReplicaClient(join(sub, "replica"));
  const up = new Uploader(client, staging, fakeClock());
  assert.equal(await up.uploadPending(), 5);
  assert.equal(up.replicaTXID, 5n);
  const listed = await client.list(0);
  assert.deepEqual(
    listed.map((f) => f.minTXID),
    [1n, 2n, 3n, 4n, 5n],
  );
  assert.equal(listed[2]!.createdAt, 1003, "timestamp metadata from the LTX header");
  const left = await staging.list();
  assert.deepEqual(
    left.map((f) => f.maxTXID),
    [5n],
  );
});

test("a store that is down: failures back off, the breaker opens, uploads catch up after", async () => {
  const sub = join(dir, "down");
  const staging = new Staging(join(sub, "meta"));
  staging.ensure();
  for (let t = 1n; t <= 3n; t++) await stage(staging, t);
  const faulty = new FaultyReplicaClient(new FileReplicaClient(join(sub, "replica")), 7, { down: true });
  const clock = fakeClock();
  const up = new Uploader(
    faulty,
    staging,
    clock,
    () => {},
    () => 0.5,
  );
  for (let i = 0; i < BREAKER_THRESHOLD; i++) {
    assert.equal(await up.uploadPending(), 0);
    clock.t += 10;
  }
  const s = up.status();
  assert.equal(s.breaker, "open");
  assert.equal(s.consecutiveFailures, BREAKER_THRESHOLD);
  assert.match(s.lastError ?? "", /injected outage/);
  assert.ok(up.delayMs() > 0 && up.delayMs() <= BREAKER_COOLDOWN_MS, "attempts spaced while open");
  clock.t += BREAKER_COOLDOWN_MS;
  assert.equal(up.breakerState(), "half-open");
  faulty.plan.down = false;
  assert.equal(await up.uploadPending(), 3);
  assert.equal(up.status().breaker, "closed");
  assert.equal(up.status().consecutiveFailures, 0);
  assert.equal(up.replicaTXID, 3n);
});

test("backoff grows with consecutive failures (full jitter, capped)", async () => {
  const sub = join(dir, "backoff");
  const staging = new Staging(join(sub, "meta"));
  staging.ensure();
  await stage(staging, 1n);
  const faulty = new FaultyReplicaClient(new FileReplicaClient(join(sub, "replica")), 1, { down: true });
  const clock = fakeClock();
  const up = new Uploader(
    faulty,
    staging,
    clock,
    () => {},
    () => 0.999,
  );
  const delays: number[] = [];
  for (let i = 0; i < BREAKER_THRESHOLD - 1; i++) {
    await up.uploadPending();
    delays.push(up.delayMs());
  }
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! > delays[i - 1]!, `delays grow: ${delays}`);
});

test("rejected credentials are fatal and not retried", async () => {
  const sub = join(dir, "auth");
  const staging = new Staging(join(sub, "meta"));
  staging.ensure();
  await stage(staging, 1n);
  const inner = new FileReplicaClient(join(sub, "replica"));
  const denying: ReplicaClient = Object.assign(Object.create(inner) as ReplicaClient, {
    write: async () => {
      throw new WalshipError("storage_auth", "access denied", { retryable: false });
    },
  });
  const up = new Uploader(denying, staging, fakeClock());
  await assert.rejects(
    up.uploadPending(),
    (e: unknown) => e instanceof WalshipError && e.code === "storage_auth",
  );
  assert.ok(up.fatalError);
  await assert.rejects(up.uploadPending(), /access denied/);
});
