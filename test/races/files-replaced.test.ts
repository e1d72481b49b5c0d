/**
 * Races with the files themselves, while walship is stopped: the -wal and -shm files deleted (an app
 * killed with commits still in its WAL, then an operator "cleaning up": those commits are gone from the
 * database, not from the replica), the -shm alone deleted, and the database replaced by a restore of an
 * older point or by another database with a different page size. The restarted walship must make the
 * replica's latest state equal the database as it now is, never graft increments onto a base that no
 * longer exists.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { FileReplicaClient } from "../../src/replica/file.js";
import { restore } from "../../src/restore/restore.js";
import { checkState, commitTxn, SCHEMA } from "../chaos/model.js";
import { tempDir } from "../helpers/db.js";
import { assertReplicaCorrect, newDb, startApp, startWalship } from "./harness.js";

const dir = tempDir("walship-races-files-");
after(() => rmSync(dir, { recursive: true, force: true }));

describe("races: WAL files and the database replaced while walship is stopped", () => {
  it("-wal and -shm deleted after the app was killed mid-WAL", async () => {
    const work = join(dir, "wal-deleted");
    const db = newDb(work);
    const replica = join(work, "replica");
    const acked: bigint[] = [];
    let w = await startWalship(db, replica);
    const app = startApp(db);
    await app.ok("w 40");
    acked.push(await w.sync());
    await w.rep.close();
    await app.ok("w 15"); // committed into the WAL only
    await app.kill();
    assert.ok(existsSync(`${db}-wal`));
    rmSync(`${db}-wal`);
    rmSync(`${db}-shm`, { force: true });
    const m = checkState(db);
    assert.ok(m < 55, "the deleted WAL took commits with it");
    w = await startWalship(db, replica);
    const app2 = startApp(db);
    try {
      await app2.ok("w 5");
      await app2.exit();
      acked.push(await w.sync());
    } finally {
      await app2.kill().catch(() => {});
      await w.rep.close();
    }
    await assertReplicaCorrect(db, replica, acked, work, false);
  });

  it("-shm alone deleted while the app and walship are stopped", async () => {
    const work = join(dir, "shm-deleted");
    const db = newDb(work);
    const replica = join(work, "replica");
    let w = await startWalship(db, replica);
    const acked = [await w.sync()];
    const app = startApp(db);
    await app.ok("w 30");
    acked.push(await w.sync());
    await app.kill();
    await w.rep.close();
    rmSync(`${db}-shm`, { force: true });
    w = await startWalship(db, replica);
    const app2 = startApp(db);
    try {
      await app2.ok("w 10");
      await app2.exit();
      acked.push(await w.sync());
    } finally {
      await app2.kill().catch(() => {});
      await w.rep.close();
    }
    await assertReplicaCorrect(db, replica, acked, work);
  });

  it("the database replaced by a restore of an older point", async () => {
    const work = join(dir, "replaced-older");
    const db = newDb(work);
    const replica = join(work, "replica");
    let w = await startWalship(db, replica);
    const app = startApp(db);
    await app.ok("w 20");
    const older = await w.sync();
    await app.ok("w 30");
    const acked = [older, await w.sync()];
    await app.exit();
    await w.rep.close();
    await restore(new FileReplicaClient(replica), { output: db, txid: older, force: true });
    assert.equal(checkState(db), 20);
    w = await startWalship(db, replica);
    const app2 = startApp(db);
    try {
      await app2.ok("w 5");
      await app2.exit();
      acked.push(await w.sync());
    } finally {
      await app2.kill().catch(() => {});
      await w.rep.close();
    }
    assert.ok(
      w.events.some((e) => e.type === "synced" && e.full),
      "a full image after the replacement",
    );
    await assertReplicaCorrect(db, replica, acked, work, false);
  });

  // Replicator.start snapshots a database whose page size differs from the newest snapshot's; without that,
  // restore at latest would mix page sizes and fail.
  it("the database replaced by one with another page size", async () => {
    const work = join(dir, "replaced-pagesize");
    const db = newDb(work);
    const replica = join(work, "replica");
    let w = await startWalship(db, replica);
    const app = startApp(db);
    await app.ok("w 20");
    const acked = [await w.sync()];
    await app.exit();
    await w.rep.close();
    // Another database (1024-byte pages) with the same history, moved into place.
    const other = join(work, "other.db");
    const o = new Database(other);
    o.pragma("page_size = 1024");
    o.pragma("journal_mode = WAL");
    o.exec(SCHEMA);
    for (let n = 1; n <= 25; n++) commitTxn(o, n);
    o.close();
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    copyFileSync(other, db);
    w = await startWalship(db, replica);
    try {
      acked.push(await w.sync());
    } finally {
      await w.rep.close();
    }
    await assertReplicaCorrect(db, replica, acked, work, false);
  });
});
