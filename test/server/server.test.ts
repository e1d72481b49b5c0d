/**
 * The operator listener in process, on real databases: /metrics is valid Prometheus text with
 * Litestream's names and walship's own, and its numbers are the store's; /health, /api/status,
 * /api/ltx (cached), the dashboard page (self-contained), and read-only routes.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { resolveConfig } from "../../src/config/resolve.js";
import { type RunningServer, startServer } from "../../src/server/http.js";
import { LtxCache } from "../../src/server/ltx-cache.js";
import { MetricsSink } from "../../src/server/metrics.js";
import { Store } from "../../src/store.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { parseProm, sampleValue } from "./helpers.js";

const dir = tempDir();
const a = join(dir, "a.db");
const b = join(dir, "b.db");
let store: Store;
let server: RunningServer;
const metrics = new MetricsSink();

before(async () => {
  for (const p of [a, b]) {
    const db = createWalDb(p);
    db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(100), 1)").run();
    db.close();
  }
  const cfg = resolveConfig(
    null,
    { syncIntervalMs: 100 },
    [
      { db: a, replica: join(dir, "bk-a") },
      { db: b, replica: join(dir, "bk-b") },
    ],
    {},
  );
  store = new Store({ databases: cfg.databases, onEvent: (e) => metrics.observe(e) });
  await store.start();
  const r = store.replicator(a)!;
  await r.checkpoint("PASSIVE");
  await store.sync();
  server = await startServer("127.0.0.1", 0, { views: () => store.views(), metrics, ltx: new LtxCache() });
});

after(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);

test("/metrics: valid text, Litestream and walship names, values equal the store's", async () => {
  const res = await get("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const { samples, types } = parseProm(await res.text());
  for (const name of [
    "litestream_db_size",
    "litestream_wal_size",
    "litestream_txid",
    "litestream_sync_count",
    "litestream_sync_error_count",
    "litestream_checkpoint_count",
    "litestream_replica_operation_total",
    "walship_replica_lag_seconds",
    "walship_pending_uploads",
    "walship_storage_requests_total",
    "walship_circuit_breaker_state",
    "walship_checkpoint_duration_seconds",
    "walship_wal_file_bytes",
    "walship_replica_txid",
  ]) {
    assert.ok(types.has(name), `missing ${name}`);
  }
  assert.equal(types.get("litestream_sync_count"), "counter");
  assert.equal(types.get("walship_checkpoint_duration_seconds"), "histogram");
  for (const v of store.views()) {
    const s = v.status!;
    assert.equal(sampleValue(samples, "litestream_txid", { db: v.db }), Number.parseInt(s.txid, 16));
    assert.equal(
      sampleValue(samples, "walship_replica_txid", { db: v.db }),
      Number.parseInt(s.replicaTXID, 16),
    );
    assert.equal(sampleValue(samples, "litestream_wal_size", { db: v.db }), s.walBytes);
    assert.equal(sampleValue(samples, "walship_pending_uploads", { db: v.db }), 0);
    assert.equal(sampleValue(samples, "walship_circuit_breaker_state", { db: v.db, state: "closed" }), 1);
    assert.ok((sampleValue(samples, "litestream_sync_count", { db: v.db }) ?? 0) >= 1);
    assert.equal(
      sampleValue(samples, "walship_storage_requests_total", { db: v.db, kind: "PUT" }),
      v.client.requests.PUT,
    );
  }
  assert.equal(
    sampleValue(samples, "litestream_checkpoint_count", { db: a, mode: "PASSIVE" }) !== undefined,
    true,
  );
  assert.equal(
    sampleValue(samples, "walship_checkpoint_duration_seconds_count", { db: a, mode: "PASSIVE" })! >= 1,
    true,
  );
  const puts = store.views().reduce((n, v) => n + v.client.requests.PUT, 0);
  assert.equal(
    sampleValue(samples, "litestream_replica_operation_total", { replica_type: "file", operation: "PUT" }),
    puts,
  );
});

test("/health: per-database verdicts with reasons, 200 when healthy", async () => {
  const res = await get("/health");
  assert.equal(res.status, 200);
  const h = (await res.json()) as {
    status: string;
    databases: Array<{ db: string; status: string; reason: string }>;
  };
  assert.equal(h.status, "healthy");
  assert.deepEqual(
    h.databases.map((d) => [d.db, d.status]),
    [
      [a, "healthy"],
      [b, "healthy"],
    ],
  );
  assert.match(h.databases[0]!.reason, /replica at TXID/);
});

test("/api/status and /api/ltx (listing cached: a second call makes no request)", async () => {
  const s = (await (await get("/api/status")).json()) as {
    databases: Array<{ db: string; txidDecimal: string; health: { status: string } }>;
  };
  assert.equal(s.databases.length, 2);
  assert.equal(s.databases[0]!.txidDecimal, BigInt(`0x${store.views()[0]!.status!.txid}`).toString());
  const client = store.views().find((v) => v.db === a)!.client;
  const lists0 = client.requests.LIST;
  const l1 = (await (await get(`/api/ltx?db=${encodeURIComponent(a)}`)).json()) as {
    levels: Array<{ level: number; files: unknown[] }>;
  };
  const lists1 = client.requests.LIST;
  await get(`/api/ltx?db=${encodeURIComponent(a)}`);
  assert.equal(client.requests.LIST, lists1, "second listing came from the cache");
  assert.ok(lists1 > lists0);
  assert.ok(l1.levels.some((l) => l.level === 0 && l.files.length > 0));
  assert.ok(
    l1.levels.some((l) => l.level === 9),
    "the initial snapshot is a restore point",
  );
  assert.equal((await get("/api/ltx?db=/nope")).status, 404);
});

test("dashboard page: self-contained, strict CSP; routes are read-only", async () => {
  const res = await get("/");
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(res.headers.get("content-security-policy")!, /default-src 'none'/);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, "no external assets");
  assert.doesNotMatch(html, /<link\b/i);
  assert.match(html, /api\/status/);
  assert.equal((await get("/metrics", { method: "POST" })).status, 405);
  assert.equal((await get("/nope")).status, 404);
  assert.equal(server.host, "127.0.0.1");
});
