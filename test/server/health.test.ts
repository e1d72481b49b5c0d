/** Health verdicts and the Prometheus text writer, on made-up states. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../../src/config/resolve.js";
import { WalshipError } from "../../src/errors.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import {
  assess,
  DEGRADED_LAG_SECONDS,
  httpStatusFor,
  UNHEALTHY_LAG_SECONDS,
} from "../../src/server/health.js";
import { Histogram, PromText } from "../../src/server/prom-text.js";
import type { DatabaseView } from "../../src/store.js";

const NOW = 1_800_000_000_000;
const settings = resolveConfig(null, {}, [{ db: "/x.db", replica: "/r" }], {}).databases[0]!.settings;

function view(
  over: Partial<DatabaseView> = {},
  upload: Record<string, unknown> = {},
  status: Record<string, unknown> = {},
): DatabaseView {
  return {
    db: "/x.db",
    replica: "/r",
    replicaType: "file",
    state: "running",
    settings,
    client: new FileReplicaClient("/r"),
    fatal: null,
    lastError: null,
    status: {
      db: "/x.db",
      replica: "/r",
      txid: "0000000000000005",
      replicaTXID: "0000000000000005",
      walBytes: 0,
      lastSyncAt: NOW - 500,
      lagSeconds: 0,
      upload: {
        pending: 0,
        lastError: null,
        lastErrorAt: null,
        lastUploadAt: NOW - 500,
        breaker: "closed",
        consecutiveFailures: 0,
        ...upload,
      },
      ...status,
    } as DatabaseView["status"],
    ...over,
  };
}

test("health verdicts", () => {
  const cases: Array<[DatabaseView, string, RegExp]> = [
    [view(), "healthy", /replica at TXID 0000000000000005/],
    [view({}, {}, { lagSeconds: DEGRADED_LAG_SECONDS + 1 }), "degraded", /behind/],
    [view({}, {}, { lagSeconds: UNHEALTHY_LAG_SECONDS + 1 }), "unhealthy", /behind/],
    [view({}, { consecutiveFailures: 2, lastError: "503 SlowDown" }), "degraded", /retrying: 503 SlowDown/],
    [
      view({}, { consecutiveFailures: 5, breaker: "open", lastError: "ECONNREFUSED" }),
      "unhealthy",
      /ECONNREFUSED/,
    ],
    [
      view({ fatal: new WalshipError("storage_auth", "credentials rejected") }),
      "unhealthy",
      /credentials rejected/,
    ],
    [
      view({
        state: "waiting",
        status: null,
        lastError: { message: "not a WAL database", code: "db_invalid", at: NOW },
      }),
      "degraded",
      /not a WAL/,
    ],
    [view({}, {}, { lastSyncAt: NOW - 120_000 }), "unhealthy", /WAL not read for 120s/],
    [
      view({ lastError: { message: "disk full", code: "disk_full", at: NOW - 1000 } }),
      "degraded",
      /recent error: disk full/,
    ],
  ];
  for (const [v, want, reason] of cases) {
    const h = assess([v], NOW);
    assert.equal(h.databases[0]!.status, want, JSON.stringify(h));
    assert.match(h.databases[0]!.reason, reason);
    assert.equal(h.status, want);
  }
  assert.equal(
    assess([view(), view({ state: "stopped" })], NOW).status,
    "unhealthy",
    "the worst database wins",
  );
  assert.equal(httpStatusFor("unhealthy"), 503);
  assert.equal(httpStatusFor("degraded"), 200);
  assert.equal(assess([], NOW).status, "degraded");
});

test("Prometheus text: label escaping, histogram buckets are cumulative", () => {
  const p = new PromText();
  p.family("x_total", "counter", "help with \\ and\nnewline", [[{ db: 'a"b\\c\nd' }, 3]]);
  const h = new Histogram([0.1, 1]);
  for (const v of [0.05, 0.5, 0.7, 5]) h.observe(v);
  p.histogram("y_seconds", "h", [[{ mode: "PASSIVE" }, h]]);
  const text = p.toString();
  assert.ok(text.includes('x_total{db="a\\"b\\\\c\\nd"} 3'));
  assert.ok(text.includes("# HELP x_total help with \\\\ and\\nnewline"));
  assert.ok(text.includes('y_seconds_bucket{mode="PASSIVE",le="0.1"} 1'));
  assert.ok(text.includes('y_seconds_bucket{mode="PASSIVE",le="1"} 3'));
  assert.ok(text.includes('y_seconds_bucket{mode="PASSIVE",le="+Inf"} 4'));
  assert.ok(text.includes('y_seconds_count{mode="PASSIVE"} 4'));
});
