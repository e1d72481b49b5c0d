/**
 * Request cost of an idle database through the whole Replicator (capture, upload, snapshot check and
 * maintenance at its defaults, as `watch` runs them), not just the Maintainer (idle.test.ts): after a
 * burst of writes, simulated hours pass with the replicator ticking on its own timer. Every call into a
 * real directory replica is counted by a wrapper, independently of the client's own counters, and an idle
 * hour must cost no PUT, GET or DELETE and at most 60 LISTs (issue 5). The lease is off here: its renewals
 * run on real time and are measured by the request-budget benchmark (bench/configs/requests.toml).
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { systemClock } from "../../src/clock.js";
import {
  type CallOptions,
  emptyRequestCounts,
  type FileRef,
  type ListOptions,
  type LtxFileInfo,
  type OpenOptions,
  type ReplicaClient,
  type RequestCounts,
  type RequestKind,
  type WriteBody,
  type WriteOptions,
} from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { createWalDb, tempDir } from "../helpers/db.js";

const HOUR = 3_600_000;
const IDLE_LIST_BUDGET = 60;
/** Simulated time per real step; the replicator ticks every 5 ms of real time, so several ticks a step. */
const STEP_MS = 5_000;

/** Counts every call by kind on its way to the real client. */
class CountingClient implements ReplicaClient {
  readonly calls: RequestCounts = emptyRequestCounts();
  readonly type: string;
  readonly location: string;

  constructor(readonly inner: ReplicaClient) {
    this.type = inner.type;
    this.location = inner.location;
  }

  get requests(): RequestCounts {
    return this.inner.requests;
  }

  list(level: number, opts?: ListOptions): Promise<LtxFileInfo[]> {
    this.calls.LIST++;
    return this.inner.list(level, opts);
  }

  open(level: number, min: bigint, max: bigint, opts?: OpenOptions): Promise<Uint8Array> {
    this.calls.GET++;
    return this.inner.open(level, min, max, opts);
  }

  write(level: number, min: bigint, max: bigint, data: WriteBody, opts: WriteOptions): Promise<void> {
    this.calls.PUT++;
    return this.inner.write(level, min, max, data, opts);
  }

  delete(files: FileRef[], opts?: CallOptions): Promise<void> {
    this.calls.DELETE++;
    return this.inner.delete(files, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function delta(after: RequestCounts, before: RequestCounts): RequestCounts {
  const out = emptyRequestCounts();
  for (const k of Object.keys(out) as RequestKind[]) out[k] = after[k] - before[k];
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("an idle database under a running Replicator costs no PUT and at most 60 LISTs per hour", async () => {
  const dir = tempDir("walship-idle-rep-");
  const dbPath = join(dir, "app.db");
  const db = createWalDb(dbPath);
  db.pragma("busy_timeout = 60000");
  const counting = new CountingClient(new FileReplicaClient(join(dir, "replica")));
  let now = Date.UTC(2026, 10, 27, 12, 0, 7);
  const rep = new Replicator({
    db: dbPath,
    replica: counting,
    clock: { now: () => now, sleep: systemClock.sleep },
    syncIntervalMs: 5,
    maintenance: {},
    lease: false,
  });
  try {
    await rep.start();
    const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(400), ?)");
    for (let i = 0; i < 20; i++) {
      ins.run(i);
      await rep.sync();
      now += 1000;
    }
    const perHour: RequestCounts[] = [];
    for (let hour = 0; hour < 2; hour++) {
      const before = { ...counting.calls };
      const ownBefore = { ...counting.requests };
      for (let t = 0; t < HOUR; t += STEP_MS) {
        now += STEP_MS;
        await sleep(5);
      }
      // Let a maintenance run started by the last tick finish inside this hour.
      await sleep(100);
      const h = delta(counting.calls, before);
      perHour.push(h);
      // The client's own counters agree; a directory has no batch delete, so it counts a DELETE per file.
      const own = delta(counting.requests, ownBefore);
      assert.deepEqual([own.PUT, own.GET, own.LIST], [h.PUT, h.GET, h.LIST], "the client's counters agree");
      assert.ok(own.DELETE >= h.DELETE);
    }
    console.log(`idle replicator requests per hour: ${JSON.stringify(perHour)}`);
    // The first hour still compacts the burst through L1, L2 (and L3 at the hour) and deletes its L0
    // files; the second is idle throughout.
    const idle = perHour[1]!;
    assert.equal(idle.PUT, 0, JSON.stringify(idle));
    assert.equal(idle.GET, 0, JSON.stringify(idle));
    assert.equal(idle.DELETE, 0, JSON.stringify(idle));
    assert.ok(idle.LIST <= IDLE_LIST_BUDGET, `${idle.LIST} LISTs in an idle hour`);
    assert.ok(perHour[0]!.LIST <= IDLE_LIST_BUDGET + 40, `${perHour[0]!.LIST} LISTs in the first hour`);
  } finally {
    await rep.close({ deadlineMs: 5000 });
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
