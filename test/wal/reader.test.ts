/**
 * scanWal against WAL files written by SQLite itself: committed transactions, resuming, open transactions
 * whose pages spilled into the WAL, maxBytes, shrinking (VACUUM), and checkpoints that restart or truncate
 * the WAL. Page images are checked against what SQLite produces when it checkpoints a copy of db + WAL.
 */

import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { after, describe, it } from "node:test";
import { parseWalFrameHeader, readPage, scanWal, type WalScan, walFrameSize } from "../../src/wal/index.js";
import {
  applyScans,
  copyDbAndWal,
  createWalDb,
  insertRows,
  openWalDb,
  sqliteImage,
  tempDir,
  validFrames,
} from "../helpers/sqlite.js";

const dir = tempDir();
const handles: FileHandle[] = [];
after(async () => {
  for (const fh of handles) await fh.close();
  dir.cleanup();
});

async function openWal(walPath: string): Promise<FileHandle> {
  const fh = await open(walPath, "r");
  handles.push(fh);
  return fh;
}

/** pgno -> data offset of the last frame of each page up to the last commit frame, computed naively. */
function expectedPages(wal: Uint8Array, from = 32): Map<number, number> {
  const { frames } = validFrames(wal);
  const pages = new Map<number, number>();
  const pending = new Map<number, number>();
  let commit = 0;
  for (const f of frames) {
    if (f.offset >= from) pending.set(f.pgno, f.offset + 24);
    if (f.commit === 0) continue;
    for (const [p, o] of pending) pages.set(p, o);
    pending.clear();
    commit = f.commit;
  }
  for (const p of pages.keys()) if (p > commit) pages.delete(p);
  return pages;
}

function pageCount(db: { pragma(s: string, o: { simple: true }): unknown }): number {
  return Number(db.pragma("page_count", { simple: true }));
}

describe("scanWal on live SQLite WALs", () => {
  it("reports committed transactions with the page images SQLite checkpoints", async () => {
    const { path, walPath, db } = createWalDb(dir.path, "basic");
    insertRows(db, 50, 3000);
    db.exec("UPDATE t SET v = randomblob(100) WHERE id % 3 = 0");
    db.exec("DELETE FROM t WHERE id > 40");
    const files = copyDbAndWal(path);
    const fh = await openWal(walPath);

    const scan = await scanWal(fh);
    assert.equal(scan.status, "ok");
    assert.ok(scan.header !== null);
    assert.equal(scan.start, 32);
    assert.equal(scan.end, files.wal.length, "every frame SQLite wrote is committed");
    assert.equal(scan.txCount, 4, "CREATE TABLE, INSERT, UPDATE, DELETE");
    assert.equal(scan.commit, pageCount(db));
    assert.equal(scan.stopReason, "eof");
    assert.deepEqual(scan.pages, expectedPages(files.wal));

    const last = parseWalFrameHeader(files.wal, scan.end - walFrameSize(scan.header.pageSize));
    assert.deepEqual(scan.position, {
      offset: scan.end,
      salt1: scan.header.salt1,
      salt2: scan.header.salt2,
      checksum1: last.checksum1,
      checksum2: last.checksum2,
    });
    assert.deepEqual(await applyScans(files.db, walPath, [scan]), sqliteImage(files.db, files.wal));

    // Reading one frame per chunk must give the same answer as 1 MiB chunks.
    const small = await scanWal(fh, { chunkSize: 1 });
    assert.deepEqual({ ...small, header: null }, { ...scan, header: null });

    const page1 = await readPage(fh, scan.pages.get(1)!, 4096);
    assert.equal(Buffer.from(page1.subarray(0, 16)).toString("latin1"), "SQLite format 3\0");
    const into = new Uint8Array(8192);
    const same = await readPage(fh, scan.pages.get(1)!, 4096, into);
    assert.equal(same.buffer, into.buffer);
    assert.deepEqual(same, page1);
    await assert.rejects(readPage(fh, files.wal.length - 100, 4096), { code: "wal_invalid" });
  });

  it("gives the same answer whatever the read sizes, across growing reads of a large WAL", async () => {
    const { walPath, db } = createWalDb(dir.path, "large");
    // About 3 MiB of frames: reads grow from 64 KiB to the 1 MiB default and stay there.
    for (let i = 0; i < 10; i++) insertRows(db, 100, 3000);
    const fh = await openWal(walPath);
    const grown = await scanWal(fh);
    assert.ok(grown.end > 3 * 1024 * 1024, `WAL of ${grown.end} bytes`);
    assert.equal(grown.txCount, 11);
    for (const chunkSize of [1, 100_000, 64 * 1024 * 1024]) {
      const other = await scanWal(fh, { chunkSize });
      assert.deepEqual({ ...other, header: null }, { ...grown, header: null }, `chunkSize ${chunkSize}`);
    }
    db.close();
  });

  it("resumes from a position and reports only the new transactions", async () => {
    const { path, walPath, db } = createWalDb(dir.path, "resume");
    insertRows(db, 20, 2000);
    const fh = await openWal(walPath);
    const first = await scanWal(fh);
    insertRows(db, 5, 2000);
    db.exec("UPDATE t SET v = zeroblob(10) WHERE id = 3");
    const files = copyDbAndWal(path);

    const second = await scanWal(fh, { from: first.position });
    assert.equal(second.status, "ok");
    assert.equal(second.start, first.end);
    assert.equal(second.txCount, 2);
    assert.equal(second.end, files.wal.length);
    for (const offset of second.pages.values()) assert.ok(offset > first.end);
    assert.deepEqual(second.pages, expectedPages(files.wal, first.end));
    assert.deepEqual(await applyScans(files.db, walPath, [first, second]), sqliteImage(files.db, files.wal));

    const third = await scanWal(fh, { from: second.position });
    assert.equal(third.txCount, 0);
    assert.equal(third.end, third.start);
    assert.equal(third.pages.size, 0);
    assert.deepEqual(third.position, second.position);
    assert.equal(third.stopReason, "eof");
  });

  it("never reports the frames of an open transaction that spilled into the WAL", async () => {
    const { path, walPath, db } = createWalDb(dir.path, "spill");
    insertRows(db, 5, 100);
    const fh = await openWal(walPath);
    const before = await scanWal(fh);

    // A 5-page cache forces SQLite to write the open transaction's dirty pages to the WAL before COMMIT.
    const writer = openWalDb(path, { cacheSize: 5 });
    writer.exec("BEGIN");
    const ins = writer.prepare("INSERT INTO t(v) VALUES (randomblob(3000))");
    for (let i = 0; i < 300; i++) ins.run();
    const open = copyDbAndWal(path);
    const uncommitted = validFrames(open.wal).frames.filter((f) => f.offset >= before.end);
    assert.ok(uncommitted.length > 50, `expected spilled frames, got ${uncommitted.length}`);
    assert.ok(
      uncommitted.every((f) => f.commit === 0),
      "spilled frames are valid but none is a commit",
    );

    const during = await scanWal(fh);
    assert.equal(during.end, before.end);
    assert.equal(during.txCount, before.txCount);
    assert.deepEqual(during.pages, before.pages);
    assert.deepEqual(during.position, before.position);
    assert.deepEqual(await applyScans(open.db, walPath, [during]), sqliteImage(open.db, open.wal));
    const resumed = await scanWal(fh, { from: before.position });
    assert.equal(resumed.txCount, 0);
    assert.equal(resumed.end, before.end);

    writer.exec("COMMIT");
    writer.close();
    const committed = copyDbAndWal(path);
    const afterCommit = await scanWal(fh, { from: before.position });
    assert.equal(afterCommit.txCount, 1);
    assert.equal(afterCommit.end, committed.wal.length);
    assert.equal(afterCommit.commit, pageCount(db));
    assert.deepEqual(
      await applyScans(committed.db, walPath, [before, afterCommit]),
      sqliteImage(committed.db, committed.wal),
    );
  });

  it("stops at a commit boundary once maxBytes is reached and resumes to the same result", async () => {
    const { walPath, db } = createWalDb(dir.path, "limit");
    for (let i = 1; i <= 12; i++) insertRows(db, i, 1500);
    const fh = await openWal(walPath);
    const full = await scanWal(fh);
    const frameSize = walFrameSize(4096);
    const { frames } = validFrames(copyDbAndWal(`${dir.path}/limit.db`).wal);
    const commitEnds = new Set(frames.filter((f) => f.commit !== 0).map((f) => f.offset + frameSize));

    for (const maxBytes of [1, 3 * frameSize, 10 * frameSize]) {
      const merged = new Map<number, number>();
      let scan: WalScan | undefined;
      let txCount = 0;
      let rounds = 0;
      do {
        scan = await scanWal(fh, { from: scan?.position, maxBytes });
        rounds++;
        if (scan.stopReason === "limit") {
          assert.ok(commitEnds.has(scan.end), "stops exactly after a commit frame");
          assert.ok(scan.end - scan.start >= maxBytes);
        }
        if (maxBytes === 1) assert.ok(scan.txCount <= 1);
        txCount += scan.txCount;
        for (const [p, o] of scan.pages) merged.set(p, o);
      } while (scan.stopReason === "limit");
      assert.ok(rounds > 2, `maxBytes ${maxBytes} took ${rounds} rounds`);
      assert.equal(txCount, full.txCount);
      assert.deepEqual(scan.position, full.position);
      assert.deepEqual(merged, full.pages);
    }
  });

  it("drops pages above the new size after VACUUM shrinks the database", async () => {
    const { path, walPath, db } = createWalDb(dir.path, "vacuum");
    insertRows(db, 300, 3000);
    db.exec("DELETE FROM t WHERE id > 20");
    const fh = await openWal(walPath);
    const before = await scanWal(fh);
    db.exec("VACUUM");
    const files = copyDbAndWal(path);

    const scan = await scanWal(fh);
    assert.ok(scan.commit < before.commit, `VACUUM shrank ${before.commit} -> ${scan.commit} pages`);
    assert.equal(scan.commit, pageCount(db));
    const { frames } = validFrames(files.wal);
    assert.ok(
      frames.some((f) => f.pgno > scan.commit),
      "the WAL holds frames for pages past the new end",
    );
    assert.ok(Math.max(...scan.pages.keys()) <= scan.commit);
    assert.deepEqual(scan.pages, expectedPages(files.wal));
    const image = sqliteImage(files.db, files.wal);
    assert.equal(image.length, scan.commit * 4096, "SQLite's checkpoint truncates the database file too");
    assert.deepEqual(await applyScans(files.db, walPath, [scan]), image);

    const resumed = await scanWal(fh, { from: before.position });
    assert.equal(resumed.txCount, 1);
    assert.equal(resumed.commit, scan.commit);
    assert.ok(Math.max(...resumed.pages.keys()) <= scan.commit);
  });
});

describe("scanWal across checkpoints", () => {
  it("detects a RESTART checkpoint by salts and ignores the stale frames that follow", async () => {
    const { path, walPath, db } = createWalDb(dir.path, "restart");
    for (let i = 0; i < 10; i++) insertRows(db, 5, 3000);
    const fh = await openWal(walPath);
    const old = await scanWal(fh);
    assert.ok(old.header !== null);
    const sizeBefore = statSync(walPath).size;

    const [result] = db.pragma("wal_checkpoint(RESTART)") as { busy: number }[];
    assert.equal(result?.busy, 0);
    assert.equal(statSync(walPath).size, sizeBefore, "RESTART leaves the file as it is");
    const idle = await scanWal(fh, { from: old.position });
    assert.equal(idle.status, "ok", "the header is rewritten only by the next writer");
    assert.equal(idle.txCount, 0);

    insertRows(db, 1, 10);
    assert.equal(statSync(walPath).size, sizeBefore, "the next writer overwrites from offset 32, no shrink");
    const files = copyDbAndWal(path);
    const scan = await scanWal(fh, { from: old.position });
    assert.equal(scan.status, "restarted");
    assert.ok(scan.header !== null);
    assert.equal(scan.header.salt1, (old.header.salt1 + 1) >>> 0, "salt-1 is incremented");
    assert.notEqual(scan.header.salt2, old.header.salt2, "salt-2 is new");
    assert.equal(scan.header.checkpointSeq, old.header.checkpointSeq + 1);
    assert.equal(scan.start, 32);
    assert.equal(scan.txCount, 1);
    assert.ok(scan.end < sizeBefore);
    assert.equal(scan.stopReason, "salt-mismatch", "frames after the new ones carry the old salts");
    assert.deepEqual(scan.position.salt1, scan.header.salt1);
    assert.deepEqual(scan.pages, expectedPages(files.wal));
    assert.deepEqual(await applyScans(files.db, walPath, [scan]), sqliteImage(files.db, files.wal));

    // From the restarted position, the next write is an ordinary incremental read again.
    insertRows(db, 2, 10);
    const next = await scanWal(fh, { from: scan.position });
    assert.equal(next.status, "ok");
    assert.equal(next.start, scan.end);
    assert.equal(next.txCount, 1);
  });

  it("reports an emptied WAL after TRUNCATE, then a restart (not truncation) once written again", async () => {
    const { walPath, db } = createWalDb(dir.path, "truncate");
    for (let i = 0; i < 5; i++) insertRows(db, 5, 3000);
    const fh = await openWal(walPath);
    const old = await scanWal(fh);

    db.pragma("wal_checkpoint(TRUNCATE)");
    assert.equal(statSync(walPath).size, 0, "TRUNCATE empties the file");
    const empty = await scanWal(fh, { from: old.position });
    assert.equal(empty.status, "empty");
    assert.equal(empty.header, null);
    assert.deepEqual(empty.position, old.position);
    assert.equal(empty.txCount, 0);
    const fresh = await scanWal(fh);
    assert.equal(fresh.status, "empty");
    assert.equal(fresh.position.offset, 32);

    insertRows(db, 1, 10);
    assert.ok(statSync(walPath).size < old.end);
    const scan = await scanWal(fh, { from: old.position });
    assert.equal(scan.status, "restarted", "salts decide, even though the file is now shorter");
    assert.equal(scan.txCount, 1);
    assert.equal(scan.stopReason, "eof");
    // A fresh position never matches a real header's salts, so it reads from 32 as well.
    const fromFresh = await scanWal(fh, { from: fresh.position });
    assert.equal(fromFresh.status, "restarted");
    assert.deepEqual(fromFresh.pages, scan.pages);
  });
});
