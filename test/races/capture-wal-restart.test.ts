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
