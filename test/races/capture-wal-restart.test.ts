/**
 * Race: a level-0 file encoded while the app restarts the WAL. When every frame of the WAL is already in
 * the database file (the app checkpointed it), walship's read transaction sits on SQLite's read mark 0,
 * which does not stop a writer from restarting the WAL over the frames walship is reading. A capture that
 * maps pages to the old generation's offsets then reads the new generation's frames halfway through: a
 * torn database behind a valid file checksum. The benchmark at 100 busy databases found such a file on
 * the replica (the staged file had been made visible, uploaded, then replaced). The check must happen
 * before the staged file becomes visible, and the capture must be retried against the new generation.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { systemClock } from "../../src/clock.js";
import { Db } from "../../src/db/db.js";
import { applyToBuffer } from "../../src/ltx/apply.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { tempDir } from "../helpers/db.js";

const dir = tempDir("walship-race-capture-");
after(() => rmSync(dir, { recursive: true, force: true }));

/** The database file once every frame is copied into it: the app's state, page for page. */
function pagesOf(app: Database.Database, path: string, pageSize: number): Buffer[] {
  app.pragma("wal_checkpoint(TRUNCATE)");
  const bytes = readFileSync(path);
  const pages: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += pageSize) pages.push(bytes.subarray(i, i + pageSize));
  return pages;
}

test("a level-0 file encoded across a WAL restart is never staged torn; the capture is retried", async () => {
  const path = join(dir, "app.db");
  const app = new Database(path);
  app.pragma("journal_mode = WAL");
  app.pragma("wal_autocheckpoint = 0");
  app.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  // walship's helper tables exist from an earlier run (creating them would restart the WAL by itself).
  const first = new Db({ path, metaDir: join(dir, "meta0"), busyTimeoutMs: 5_000, clock: systemClock });
  await first.resume(0n);
  first.close();
  const ins = app.prepare("INSERT INTO t (v) VALUES (randomblob(3000))");
  app.transaction(() => {
    for (let i = 0; i < 40; i++) ins.run();
  })();
  // Every frame into the database file, the WAL left in place: walship will start on read mark 0 and
  // capture every page from the old generation's frames.
  const ck = app.pragma("wal_checkpoint(PASSIVE)") as { log: number; checkpointed: number }[];
  assert.equal(ck[0]!.log, ck[0]!.checkpointed);

  const db = new Db({ path, metaDir: join(dir, "meta"), busyTimeoutMs: 5_000, clock: systemClock });
  try {
    await db.resume(0n);
    // After the first encoded chunk, the app commits: its first write restarts the WAL at frame 1.
    const write = db.staging.write.bind(db.staging);
    let attempts = 0;
    let discarded = 0;
    db.staging.write = async (min, max, chunks, keep) => {
      attempts++;
      async function* interposed(): AsyncGenerator<Uint8Array> {
        let n = 0;
        for await (const c of chunks) {
          yield c;
          if (++n === 2 && attempts === 1) app.prepare("UPDATE t SET v = randomblob(3000)").run();
        }
      }
      const r = await write(min, max, interposed(), keep);
      if (r === null) discarded++;
      return r;
    };
    const res = await db.sync();
    assert.ok(res, "a file was staged");
    assert.equal(discarded, 1, "the torn attempt was discarded before it became visible");
    assert.equal(attempts, 2, "and the capture was retried");
    const staged = await db.staging.list();
    assert.deepEqual(
      staged.map((f) => f.maxTXID),
      [res.txid],
      "exactly one staged file, the retried one",
    );

    // The staged file is the database at its TXID: the state after the app's update, every page.
    const ltx = await decodeLtx(readFileSync(staged[0]!.path));
    const pageSize = db.pageSize;
    db.close();
    const want = pagesOf(app, path, pageSize);
    assert.equal(ltx.header.commit, want.length);
    const bad = ltx.pages.filter((p) => !Buffer.from(p.data).equals(want[p.pgno - 1]!)).map((p) => p.pgno);
    assert.deepEqual(bad, [], `pages that are not the state at TXID ${res.txid}: ${bad.join(", ")}`);
    assert.equal(ltx.pages.length, want.length);
  } finally {
    db.close();
    app.close();
  }
});

test("a restart resumed at a staged position does not take a WAL restart for a continuation", async () => {
  // walship stops (or is killed) with frames it has not read in the WAL; the app's own checkpoint copies
  // them into the database file; walship restarts, anchors at its last staged position (same WAL
  // generation) and so takes SQLite's read mark 0, which lets the app's next commit restart the WAL over
  // those frames. The next file must still carry the pages they changed.
  const path = join(dir, "resumed.db");
  const metaDir = join(dir, "resumed-meta");
  const app = new Database(path);
  app.pragma("journal_mode = WAL");
  app.pragma("wal_autocheckpoint = 0");
  app.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  const ins = app.prepare("INSERT INTO t (v) VALUES (randomblob(3000))");
  const first = new Db({ path, metaDir, busyTimeoutMs: 5_000, clock: systemClock });
  await first.resume(0n);
  app.transaction(() => {
    for (let i = 0; i < 20; i++) ins.run();
  })();
  const one = await first.sync();
  assert.ok(one);
  first.close();

  // While walship is down: more commits (appended to the same WAL generation), then a full checkpoint.
  app.transaction(() => {
    for (let i = 0; i < 20; i++) ins.run();
  })();
  app.prepare("UPDATE t SET v = randomblob(2000) WHERE id <= 5").run();
  const ck = app.pragma("wal_checkpoint(PASSIVE)") as { log: number; checkpointed: number }[];
  assert.equal(ck[0]!.log, ck[0]!.checkpointed);

  const db = new Db({ path, metaDir, busyTimeoutMs: 5_000, clock: systemClock });
  try {
    await db.resume(one.txid);
    // The app's next commit restarts the WAL before walship reads it.
    app.prepare("UPDATE t SET v = randomblob(1000) WHERE id = 30").run();
    const two = await db.sync();
    assert.ok(two);
    const files = await db.staging.list();
    assert.deepEqual(
      files.map((f) => f.maxTXID),
      [one.txid, two.txid],
    );
    const applied = await applyToBuffer(files.map((f) => readFileSync(f.path)));
    const pageSize = db.pageSize;
    db.close();
    const want = pagesOf(app, path, pageSize);
    const got = applied.image;
    assert.equal(got.length, want.length * pageSize);
    const bad: number[] = [];
    for (let pg = 1; pg <= want.length; pg++) {
      const a = Buffer.from(got.subarray((pg - 1) * pageSize, pg * pageSize));
      if (!a.equals(want[pg - 1]!)) bad.push(pg);
    }
    assert.deepEqual(bad, [], `pages that differ from the app's database at TXID ${two.txid}`);
  } finally {
    db.close();
    app.close();
  }
});
