/**
 * Races: VACUUM (every page rewritten, the file shrinks) and journal_mode switches. A switch away from WAL
 * needs an exclusive lock, so it fails while walship holds its reader; done while walship is stopped, the
 * database changes outside any WAL walship saw, and the restarted walship must notice (its saved position
 * no longer matches) and ship a full image rather than an increment on a stale base.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { tempDir } from "../helpers/db.js";
import { assertReplicaCorrect, newDb, startApp, startWalship } from "./harness.js";

const dir = tempDir("walship-races-schema-");
after(() => rmSync(dir, { recursive: true, force: true }));

describe("races: VACUUM and journal_mode", () => {
  it("VACUUM while walship replicates (the database shrinks)", async () => {
    const work = join(dir, "vacuum");
    const db = newDb(work);
    const w = await startWalship(db, join(work, "replica"));
    const app = startApp(db);
    try {
      for (let round = 0; round < 4; round++) {
        await app.ok("w 90"); // rows of the oldest transactions are deleted as it goes: free pages
        await w.sync();
        await app.ok("vacuum");
        await app.ok("w 3");
        await w.sync();
      }
      await app.exit();
      await w.sync();
    } finally {
      await app.kill().catch(() => {});
      await w.rep.close();
    }
    assert.ok(w.events.some((e) => e.type === "synced"));
    await assertReplicaCorrect(db, join(work, "replica"), w.acked, work);
  });

  it("journal_mode=DELETE is refused while walship runs; the replica stays correct", async () => {
    const work = join(dir, "switch-live");
    const db = newDb(work);
    const w = await startWalship(db, join(work, "replica"));
    const app = startApp(db, 200);
    try {
      await app.ok("w 10");
      const r = await app.send("jm delete");
      assert.ok(r === "ok wal" || r.startsWith("err"), `the switch did not happen: ${r}`);
      await app.ok("w 10");
      await app.exit();
      await w.sync();
    } finally {
      await app.kill().catch(() => {});
      await w.rep.close();
    }
    await assertReplicaCorrect(db, join(work, "replica"), w.acked, work);
  });

  it("DELETE mode and back while walship is stopped: the restart ships a full image", async () => {
    const work = join(dir, "switch-stopped");
    const db = newDb(work);
    const acked: bigint[] = [];
    let w = await startWalship(db, join(work, "replica"));
    const app = startApp(db);
    try {
      await app.ok("w 30");
      acked.push(await w.sync());
      await w.rep.close();
      assert.equal(await app.ok("jm delete"), "ok delete");
      await app.ok("w 20"); // rollback-journal commits: no WAL at all
      // walship refuses a non-WAL database instead of replicating something it cannot follow.
      await assert.rejects(startWalship(db, join(work, "replica")), (e) => isWalshipError(e, "db_invalid"));
      assert.equal(await app.ok("jm wal"), "ok wal");
      await app.ok("w 20");
      w = await startWalship(db, join(work, "replica"));
      acked.push(await w.sync());
      await app.ok("w 5");
      await app.exit();
      acked.push(await w.sync());
    } finally {
      await app.kill().catch(() => {});
      await w.rep.close();
    }
    assert.ok(
      w.events.some((e) => e.type === "synced" && e.full),
      "the restart's first file holds every page",
    );
    await assertReplicaCorrect(db, join(work, "replica"), acked, work);
  });
});
