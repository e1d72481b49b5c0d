/**
 * Start-up against storage that is briefly unwell: replicate() keeps trying errors that retrying can fix
 * (reported as non-fatal error events) and fails at once on a wrong address or when retrying is off.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { isWalshipError } from "../../src/errors.js";
import { type ReplicaEvent, replicate, restore, WalshipError } from "../../src/index.js";
import { FaultyReplicaClient } from "../../src/replica/faulty.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { retryableAtStart } from "../../src/start-retry.js";
import { createWalDb, tempDir } from "../helpers/db.js";

const dir = tempDir("walship-start-retry-");
after(() => rmSync(dir, { recursive: true, force: true }));

test("a store that is down at start-up is retried until it answers; nothing is lost", async () => {
  const path = join(dir, "a.db");
  const app = createWalDb(path);
  app.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  app.prepare("INSERT INTO t (v) VALUES ('before start')").run();
  const store = new FaultyReplicaClient(new FileReplicaClient(join(dir, "replica-a")), 1, { down: true });
  const events: ReplicaEvent[] = [];
  setTimeout(() => {
    store.plan = {};
  }, 300);
  const r = await replicate({
    db: path,
    replica: store,
    lease: false,
    onEvent: (e) => events.push(e),
  });
  try {
    const errors = events.filter((e) => e.type === "error");
    assert.ok(errors.length >= 1, "the failed attempt was reported");
    for (const e of errors) assert.equal(e.type === "error" && e.fatal, false);
    app.prepare("INSERT INTO t (v) VALUES ('after start')").run();
    const txid = await r.sync({ timeoutMs: 10_000 });
    assert.ok(txid >= 1n);
  } finally {
    await r.close();
    app.close();
  }
  const restored = join(dir, "a-restored.db");
  await restore({ replica: join(dir, "replica-a"), output: restored });
  const got = new Database(restored, { readonly: true });
  assert.deepEqual(got.prepare("SELECT v FROM t ORDER BY id").all(), [
    { v: "before start" },
    { v: "after start" },
  ]);
  got.close();
});

test("with the retry window at 0, start-up fails at once with the storage error", async () => {
  const path = join(dir, "b.db");
  createWalDb(path).close();
  const store = new FaultyReplicaClient(new FileReplicaClient(join(dir, "replica-b")), 2, { down: true });
  await assert.rejects(replicate({ db: path, replica: store, lease: false, startRetryWindowMs: 0 }), (e) =>
    isWalshipError(e, "storage_connection"),
  );
});

test("a wrong address (nothing listens) is not retried; a throttled or dropped request is", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const client = new S3ReplicaClient({
    bucket: "b",
    path: "db",
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: "k",
    secretAccessKey: "s",
    retry: { attempts: 1 },
  });
  const refused = await client.list(0).then(
    () => null,
    (e: unknown) => e,
  );
  await client.close();
  assert.ok(refused instanceof WalshipError && refused.code === "storage_connection");
  assert.equal(retryableAtStart(refused), false, "ECONNREFUSED: check the endpoint, retrying cannot help");
  const throttled = new WalshipError("storage_throttled", "SlowDown", { retryable: true });
  assert.equal(retryableAtStart(throttled), true);
  const reset = new WalshipError("storage_connection", "socket hang up", {
    retryable: true,
    context: { errno: "ECONNRESET" },
  });
  assert.equal(retryableAtStart(reset), true);
  const auth = new WalshipError("storage_auth", "InvalidAccessKeyId", { retryable: false });
  assert.equal(retryableAtStart(auth), false);
});
