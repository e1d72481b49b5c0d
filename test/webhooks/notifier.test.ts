/**
 * Webhooks against a local HTTP server: signed JSON bodies, retries with backoff (same delivery id),
 * no retry on a 4xx, de-duplication, event filtering, and never blocking the caller even when the
 * receiver hangs.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { WalshipError } from "../../src/errors.js";
import type { StoreEvent } from "../../src/store.js";
import { WebhookNotifier, type WebhookSettings } from "../../src/webhooks/notifier.js";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verify } from "../../src/webhooks/signature.js";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function receiver(
  handle: (n: number, res: ServerResponse) => void,
): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      handle(got.length, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=t0ken`, got };
}

const ALL: WebhookSettings["events"] = [
  "sync_failed",
  "auth_failure",
  "corruption_detected",
  "circuit_breaker_open",
  "disk_full",
];

function settings(urls: string[], over: Partial<WebhookSettings> = {}): WebhookSettings {
  return { urls, events: ALL, timeoutMs: 2_000, maxAttempts: 4, ...over };
}

const authError: StoreEvent = {
  type: "error",
  db: "/data/app.db",
  error: new WalshipError("storage_auth", "credentials rejected (InvalidAccessKeyId)"),
  fatal: true,
};

test("an auth failure is POSTed as signed JSON", async () => {
  const r = await receiver((_n, res) => res.writeHead(204).end());
  const n = new WebhookNotifier(settings([r.url], { secret: "s3cr3t" }));
  n.observe(authError);
  await n.close(5_000);
  assert.equal(r.got.length, 1);
  const { headers, body } = r.got[0]!;
  const p = JSON.parse(body) as Record<string, unknown>;
  assert.equal(p.event, "auth_failure");
  assert.equal(p.db, "/data/app.db");
  assert.equal(p.code, "storage_auth");
  assert.equal(p.fatal, true);
  assert.match(String(p.message), /credentials rejected/);
  assert.equal(headers["content-type"], "application/json");
  assert.equal(headers["x-walship-event"], "auth_failure");
  const ts = Number(headers[TIMESTAMP_HEADER]);
  assert.ok(verify("s3cr3t", ts, body, String(headers[SIGNATURE_HEADER])), "signature verifies");
  assert.ok(!verify("other", ts, body, String(headers[SIGNATURE_HEADER])));
  assert.ok(!body.includes("s3cr3t"), "the secret is never sent");
  assert.equal(n.stats.sent, 1);
});

test("retried with backoff on 503 until delivered, with the same delivery id; 4xx is not retried", async () => {
  const r = await receiver((i, res) => res.writeHead(i < 3 ? 503 : 200).end());
  const waits: number[] = [];
  const n = new WebhookNotifier(settings([r.url]), {
    backoff: (attempt) => {
      waits.push(attempt);
      return 20 * attempt;
    },
  });
  n.observe({ type: "breaker", db: "/a.db", state: "open" });
  await n.close(5_000);
  assert.equal(r.got.length, 3);
  assert.deepEqual(waits, [1, 2]);
  const ids = r.got.map((g) => g.headers["x-walship-delivery"]);
  assert.equal(new Set(ids).size, 1);
  assert.equal(JSON.parse(r.got[2]!.body).event, "circuit_breaker_open");
  assert.deepEqual(n.stats, { sent: 1, failed: 0, dropped: 0, retried: 2 });

  const bad = await receiver((_i, res) => res.writeHead(400).end());
  const logs: string[] = [];
  const n2 = new WebhookNotifier(settings([bad.url]), { backoff: () => 1, log: (_l, msg) => logs.push(msg) });
  n2.observe(authError);
  await n2.close(5_000);
  assert.equal(bad.got.length, 1);
  assert.equal(n2.stats.failed, 1);
  assert.ok(logs.includes("webhook not delivered"));
});

test("gives up after max-attempts when the receiver is down", async () => {
  const r = await receiver((_i, res) => res.writeHead(500).end());
  const n = new WebhookNotifier(settings([r.url], { maxAttempts: 3 }), { backoff: () => 5 });
  n.observe({ type: "upload_failed", db: "/a.db", message: "ECONNRESET", consecutive: 2 });
  await n.close(5_000);
  assert.equal(r.got.length, 3);
  assert.equal(n.stats.failed, 1);
});

test("classification, filtering and de-duplication", async () => {
  const r = await receiver((_i, res) => res.writeHead(200).end());
  const n = new WebhookNotifier(
    settings([r.url], { events: ["disk_full", "corruption_detected", "sync_failed"] }),
  );
  const err = (code: ConstructorParameters<typeof WalshipError>[0], db = "/a.db"): StoreEvent => ({
    type: "error",
    db,
    error: new WalshipError(code, code),
    fatal: false,
  });
  n.observe(err("disk_full"));
  n.observe(err("disk_full")); // same event, same database: suppressed
  n.observe(err("disk_full", "/b.db"));
  n.observe(err("ltx_checksum"));
  n.observe(err("storage_connection"));
  n.observe(authError); // auth_failure is not in the configured events
  n.observe({ type: "synced", db: "/a.db", txid: 1n, pages: 1, full: false });
  n.observe({ type: "breaker", db: "/a.db", state: "closed" });
  await n.close(5_000);
  const events = r.got.map((g) => {
    const p = JSON.parse(g.body) as { event: string; db: string };
    return `${p.event} ${p.db}`;
  });
  assert.deepEqual(events.sort(), [
    "corruption_detected /a.db",
    "disk_full /a.db",
    "disk_full /b.db",
    "sync_failed /a.db",
  ]);
});

test("never blocks: a hanging receiver costs the caller nothing, close() keeps its deadline", async () => {
  const r = await receiver(() => {}); // never answers
  const n = new WebhookNotifier(settings([r.url], { timeoutMs: 60_000 }));
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) n.observe({ ...authError, db: `/db-${i}.db` });
  const spent = performance.now() - t0;
  assert.ok(spent < 200, `observe() took ${spent.toFixed(1)} ms for 500 events`);
  const c0 = performance.now();
  await n.close(300);
  const closing = performance.now() - c0;
  assert.ok(closing < 2_000, `close took ${closing.toFixed(0)} ms`);
  assert.ok(r.got.length <= 4, "only WEBHOOK_CONCURRENCY deliveries were in flight");
});
