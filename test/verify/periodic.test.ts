/**
 * Periodic validation (`validateIntervalMs`, `--validate-interval`, `[validation] interval`): a running
 * Replicator checks its real directory replica in the background once per interval of its injected clock
 * and reports a "validation" event: ok for a whole replica; the damaged file when a byte of an L0 file was
 * flipped behind its back. The event also reaches metrics and the corruption webhook.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type Database from "better-sqlite3";
import { systemClock } from "../../src/clock.js";
import { cliSettings } from "../../src/config/from-args.js";
import { parseConfig } from "../../src/config/load.js";
import { resolveConfig } from "../../src/config/resolve.js";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FaultyReplicaClient } from "../../src/replica/faulty.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { type ReplicaEvent, Replicator, type ReplicatorOptions } from "../../src/replicator.js";
import { MetricsSink } from "../../src/server/metrics.js";
import { eventNameFor } from "../../src/webhooks/event.js";
import { createWalDb, tempDir } from "../helpers/db.js";

const INTERVAL_MS = 6 * 60 * 60_000;
type Validation = Extract<ReplicaEvent, { type: "validation" }>;

interface Running {
  dir: string;
  db: Database.Database;
  /** The directory replica underneath (for damaging files). */
  client: FileReplicaClient;
  rep: Replicator;
  events: Validation[];
  /** The replicator's clock: only the test moves it. */
  clock: { now: number };
  close(): Promise<void>;
}

/** `wrap` puts a fault-injecting client between the replicator and the directory replica. */
async function start(
  extra: Partial<ReplicatorOptions> = {},
  wrap: (c: FileReplicaClient) => ReplicaClient = (c) => c,
): Promise<Running> {
  const dir = tempDir("walship-validate-");
  const dbPath = join(dir, "app.db");
  const db = createWalDb(dbPath);
  db.pragma("busy_timeout = 60000");
  const client = new FileReplicaClient(join(dir, "replica"));
  const clock = { now: 1_700_000_000_000 };
  const events: Validation[] = [];
  const rep = new Replicator({
    db: dbPath,
    replica: wrap(client),
    // Time for schedules is the test's; waiting (sync's back-off) is real.
    clock: { now: () => clock.now, sleep: systemClock.sleep },
    // Real ticks, often, so a due validation starts soon after the test moves the clock.
    syncIntervalMs: 50,
    snapshotIntervalMs: 0,
    // No checkpoints from ticks: one holds SQLite's write lock across an await while the test's
    // synchronous insert would busy-wait on the same event loop (see test/compaction/sim.ts).
    checkpointIntervalMs: 0,
    minCheckpointPages: 1_000_000_000,
    truncatePages: -1,
    validateIntervalMs: INTERVAL_MS,
    onEvent: (e) => {
      if (e.type === "validation") events.push(e);
    },
    ...extra,
  });
  await rep.start();
  return {
    dir,
    db,
    client,
    rep,
    events,
    clock,
    async close() {
      await rep.close({ deadlineMs: 5000 });
      db.close();
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Several transactions, each captured and uploaded as its own L0 file. */
async function writeBatches(r: Running, n: number): Promise<void> {
  const ins = r.db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(700), ?)");
  for (let i = 0; i < n; i++) {
    ins.run(i);
    await r.rep.sync();
  }
}

async function waitForEvents(r: Running, count: number): Promise<void> {
  const end = Date.now() + 20_000;
  while (r.events.length < count) {
    if (Date.now() > end) throw new Error(`timed out waiting for validation event #${count}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

test("a whole replica validates ok once per interval, with compaction running", async () => {
  // maintenance as under `watch`: compaction may rewrite the replica while it is validated.
  const r = await start({ maintenance: {} });
  try {
    await writeBatches(r, 6);
    await sleep(300);
    assert.equal(r.events.length, 0, "nothing is validated before one interval has passed");
    r.clock.now += INTERVAL_MS;
    await waitForEvents(r, 1);
    const e = r.events[0]!;
    assert.deepEqual(e.problems, []);
    assert.equal(e.error, null);
    assert.equal(e.ok, true);
    assert.equal(e.latestTXID, r.rep.txid);
    assert.ok(e.files >= 2, `${e.files} files`);
    // Ticks keep coming; the next run waits for the next interval.
    await sleep(300);
    assert.equal(r.events.length, 1);
    await writeBatches(r, 2);
    r.clock.now += INTERVAL_MS;
    await waitForEvents(r, 2);
    assert.equal(r.events[1]!.ok, true);
    assert.equal(r.events[1]!.latestTXID, r.rep.txid);
    assert.equal(eventNameFor(r.events[1]!), null, "a whole replica sends no webhook");
  } finally {
    await r.close();
  }
});

test("a flipped byte in an L0 file is reported by the next validation, in metrics and as corruption", async () => {
  const r = await start();
  try {
    await writeBatches(r, 8);
    const bad = r.rep.txid - 3n;
    const path = r.client.filePath(0, bad, bad);
    const b = readFileSync(path);
    b[Math.floor(b.length / 2)]! ^= 0x40;
    writeFileSync(path, b);
    r.clock.now += INTERVAL_MS;
    await waitForEvents(r, 1);
    const e = r.events[0]!;
    assert.equal(e.ok, false);
    assert.equal(e.error, null, "the replica was read; it is the replica that is wrong");
    const damaged = e.problems.filter((p) => p.kind === "damaged");
    assert.equal(
      damaged.length,
      1,
      JSON.stringify(e.problems, (_k, v) => (typeof v === "bigint" ? `${v}` : v)),
    );
    assert.equal(damaged[0]!.level, 0);
    assert.equal(damaged[0]!.minTXID, bad);
    assert.equal(damaged[0]!.code, "ltx_invalid");

    const metrics = new MetricsSink(() => 1_700_000_000_000);
    metrics.observe(e);
    const settings = resolveConfig(null, {}, [{ db: e.db, replica: r.client.rootPath }], {}).databases[0]!
      .settings;
    const view = {
      db: e.db,
      replica: r.client.location,
      replicaType: r.client.type,
      state: "running" as const,
      settings,
      status: r.rep.status(),
      client: r.client,
      fatal: null,
      lastError: null,
    };
    const text = metrics.render([view]);
    assert.match(text, /walship_validations_total\{db="[^"]*app\.db",result="problems"\} 1\n/);
    assert.match(text, /walship_validation_problems\{db="[^"]*app\.db"\} 1\n/);
    assert.equal(eventNameFor(e), "corruption_detected");
  } finally {
    await r.close();
  }
});

test("a store that cannot be read gives an error result, not problems, and no corruption webhook", async () => {
  const made: FaultyReplicaClient[] = [];
  const r = await start({}, (c) => made[made.push(new FaultyReplicaClient(c, 5)) - 1]!);
  const faulty = made[0]!;
  try {
    await writeBatches(r, 3);
    faulty.plan.down = true;
    r.clock.now += INTERVAL_MS;
    await waitForEvents(r, 1);
    const e = r.events[0]!;
    assert.equal(e.ok, false);
    assert.deepEqual(e.problems, []);
    assert.equal(e.error?.code, "storage_connection");
    assert.equal(eventNameFor(e), null);
  } finally {
    faulty.plan.down = false;
    await r.close();
  }
});

test("close() aborts a validation in progress instead of waiting for it, and it reports nothing", async () => {
  const made: FaultyReplicaClient[] = [];
  const r = await start({}, (c) => made[made.push(new FaultyReplicaClient(c, 9)) - 1]!);
  const faulty = made[0]!;
  try {
    await writeBatches(r, 6);
    // Every request of the validation now takes up to 300 ms: a run of ~20 requests takes seconds.
    faulty.plan.latencyMs = 300;
    const lists = faulty.requests.LIST;
    r.clock.now += INTERVAL_MS;
    const end = Date.now() + 10_000;
    while (faulty.requests.LIST === lists) {
      assert.ok(Date.now() < end, "the validation never started");
      await sleep(10);
    }
  } finally {
    const t0 = Date.now();
    await r.close();
    // One request in flight may finish; the remaining levels and files are not read.
    assert.ok(Date.now() - t0 < 2_000, `close took ${Date.now() - t0} ms`);
  }
  assert.deepEqual(r.events, []);
});

test("the interval comes from --validate-interval, [[databases]] validation-interval or [validation]", () => {
  const toml = `
[validation]
interval = "6h"

[[databases]]
path = "/data/a.db"
replica = "/backups/a"

[[databases]]
path = "/data/b.db"
replica = "/backups/b"
validation-interval = "30m"
`;
  const env = {};
  const file = parseConfig(toml, "walship.toml", { env });
  const [a, b] = resolveConfig(file, {}, [], env).databases;
  assert.equal(a!.settings.validateIntervalMs, 6 * 3_600_000);
  assert.equal(b!.settings.validateIntervalMs, 30 * 60_000);
  const flagged = resolveConfig(file, cliSettings({ "validate-interval": "1h" }, ""), [], env).databases;
  assert.ok(flagged.every((d) => d.settings.validateIntervalMs === 3_600_000));
  const none = resolveConfig(null, {}, [{ db: "/data/c.db", replica: "/backups/c" }], env).databases[0]!;
  assert.equal(none.settings.validateIntervalMs, 0, "off by default");
  assert.equal(
    none.rows.find((row) => row.key === "validation-interval")?.origin,
    "default",
    "walship explain shows where it came from",
  );
  assert.throws(() => cliSettings({ "validate-interval": "10ms" }, ""), /at least 1s/);
});
