/** The library handle: typed listeners, the async event stream, AbortSignal, close() once. */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { type ReplicaEvent, replicate } from "../../src/index.js";
import { tempDir } from "../helpers/db.js";

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

function appDb(name: string): Database.Database {
  const db = new Database(join(dir, name));
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  db.exec("CREATE TABLE IF NOT EXISTS t (x)");
  return db;
}

test("on(type) gets only that type; events() streams until close; sync() waits for the replica", async () => {
  const db = appDb("ev.db");
  const r = await replicate({ db, replica: join(dir, "ev-replica"), syncIntervalMs: 50 });
  const uploaded: bigint[] = [];
  const off = r.on("uploaded", (e) => uploaded.push(e.maxTXID));
  const seen: ReplicaEvent["type"][] = [];
  const consumer = (async () => {
    for await (const e of r.events()) seen.push(e.type);
  })();
  db.prepare("INSERT INTO t VALUES (1)").run();
  const txid = await r.sync({ timeoutMs: 10_000 });
  assert.ok(uploaded.includes(txid), `uploaded ${uploaded} includes ${txid}`);
  off();
  db.prepare("INSERT INTO t VALUES (2)").run();
  const txid2 = await r.sync({ timeoutMs: 10_000 });
  assert.ok(!uploaded.includes(txid2), "unsubscribed listener is not called");
  assert.equal(await r.close({ deadlineMs: 5_000 }), true);
  assert.equal(await r.close(), true, "close twice is fine");
  await consumer;
  assert.ok(seen.includes("synced") && seen.includes("uploaded"), seen.join(","));
  db.close();
});

test("AbortSignal: aborting closes the replication; an aborted signal refuses to start", async () => {
  const db = appDb("ab.db");
  const ac = new AbortController();
  const r = await replicate({ db, replica: join(dir, "ab-replica"), signal: ac.signal });
  const it = r.events();
  ac.abort();
  // The close uploads what is staged (events may still arrive), then the stream ends.
  for (let n = 0; ; n++) {
    assert.ok(n < 100, "the stream ends when closed");
    if ((await it.next()).done) break;
  }
  await assert.rejects(r.sync({ timeoutMs: 100 }));
  await assert.rejects(
    replicate({ db, replica: join(dir, "ab-replica"), signal: ac.signal }),
    (e: Error & { code?: string }) => e.code === "aborted",
  );
  db.close();
});
