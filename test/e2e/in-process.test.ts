/**
 * Library mode in the app's own process: the app writes through synchronous better-sqlite3 calls on the
 * same event loop while walship checkpoints often. A checkpoint barrier that awaited I/O under SQLite's
 * write lock would deadlock with such a writer until busy_timeout; the app must never see SQLITE_BUSY.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { replicate, restore } from "../../src/index.js";
import { contentHash, createWalDb, fileContentHash, tempDir } from "../helpers/db.js";

test("an in-process synchronous writer and frequent walship checkpoints never deadlock", async () => {
  const dir = tempDir();
  const dbPath = join(dir, "app.db");
  const db = createWalDb(dbPath);
  // Short, so a deadlock shows as SQLITE_BUSY instead of a slow test.
  db.pragma("busy_timeout = 2000");
  const rep = await replicate({
    db,
    replica: join(dir, "replica"),
    minCheckpointPages: 20,
    checkpointIntervalMs: 200,
    syncIntervalMs: 50,
    snapshotIntervalMs: 0,
    maintenance: false,
  });
  let checkpoints = 0;
  const off = rep.on("checkpointed", () => {
    checkpoints++;
  });
  const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(3000), ?)");
  const end = Date.now() + 4000;
  let n = 0;
  try {
    while (Date.now() < end || checkpoints < 3) {
      ins.run(n++);
      // Yield to the event loop between writes, as a server handling requests does (~1000 writes/s).
      await new Promise((r) => setTimeout(r, 1));
      if (Date.now() > end + 20_000) break;
    }
    assert.ok(checkpoints >= 3, `walship checkpointed ${checkpoints} times while the app wrote ${n} rows`);
    await rep.sync();
  } finally {
    off();
    assert.equal(await rep.close(), true);
  }
  const want = contentHash(db);
  db.close();
  const out = join(dir, "restored.db");
  await restore({ replica: join(dir, "replica"), output: out });
  assert.equal(fileContentHash(out), want);
  rmSync(dir, { recursive: true, force: true });
});
