/**
 * The in-place apply on its own, with real SQLite: its journal is SQLite's (SQLite itself rolls it back
 * after a crash at either stage), a failed apply is undone before anyone reads, readers notice a commit
 * through the change counter, and a reader's open transaction holds an apply off (busy) rather than
 * seeing a mix. The chain planner and the progress resolution are checked here too.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { planCatchUp } from "../../src/follow/chain.js";
import { readDbHeader, stampPage1 } from "../../src/follow/header.js";
import { type CommitRecord, LocalDb } from "../../src/follow/local-db.js";
import { resolveTXID } from "../../src/follow/progress.js";
import { diffImage } from "../../src/follow/stage.js";
import type { LtxFileInfo } from "../../src/replica/client.js";
import { repoRoot } from "../helpers/cli.js";
import { fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";
import { runTs } from "./helpers.js";

const CRASH_CHILD = join(repoRoot, "test", "follow", "apply-crash-child.ts");
const dir = tempDir("walship-follow-apply-");
after(() => rmSync(dir, { recursive: true, force: true }));

const noRecord: CommitRecord = { prepare: async () => {}, publish: async () => {} };

/** A rollback-mode database with `rows` rows of 2 KiB; `grow` more rows make a bigger, different image. */
function makeDb(path: string, rows: number, tag: string): void {
  rmSync(path, { force: true });
  const db = new Database(path);
  db.pragma("page_size = 4096");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, tag TEXT, pad BLOB)");
  const ins = db.prepare("INSERT INTO t (tag, pad) VALUES (?, randomblob(2000))");
  db.transaction(() => {
    for (let i = 0; i < rows; i++) ins.run(tag);
  })();
  db.close();
  // Stamp as a follower would, so the file reads in rollback-journal mode with a known counter.
  const b = readFileSync(path);
  stampPage1(b, 7, b.length / 4096);
  writeFileSync(path, b);
}

function tagsOf(path: string): string[] {
  const db = new Database(path, { fileMustExist: true });
  try {
    return (db.prepare("SELECT DISTINCT tag FROM t").all() as Array<{ tag: string }>).map((r) => r.tag);
  } finally {
    db.close();
  }
}

describe("in-place apply", () => {
  for (const [name, before, image] of [
    ["grow", 40, 120],
    ["shrink", 120, 40],
  ] as const) {
    test(`${name}: the file becomes the image, counter bumped, rollback-journal mode`, async () => {
      const a = join(dir, `${name}-a.db`);
      const b = join(dir, `${name}-b.db`);
      makeDb(a, before, "old");
      makeDb(b, image, "new");
      const local = await LocalDb.open(a, { lockTimeoutMs: 1000 });
      const reader = new Database(a, { fileMustExist: true });
      assert.deepEqual(
        (reader.prepare("SELECT DISTINCT tag FROM t").all() as Array<{ tag: string }>).map((r) => r.tag),
        ["old"],
      );
      try {
        const set = await diffImage(local, b);
        try {
          const stats = await local.apply(set, noRecord);
          assert.equal(stats.changeCounter, 8);
        } finally {
          await set.source.close();
        }
      } finally {
        local.close();
      }
      // The reader's connection stayed open: its cache must not survive the change.
      assert.deepEqual(
        (reader.prepare("SELECT DISTINCT tag FROM t").all() as Array<{ tag: string }>).map((r) => r.tag),
        ["new"],
      );
      reader.close();
      const h = readDbHeader(new Uint8Array(readFileSync(a).subarray(0, 100)));
      assert.equal(h.writeVersion, 1);
      assert.equal(h.readVersion, 1);
      assert.equal(h.pageCount, readFileSync(a).length / 4096);
      assert.equal(integrityCheck(a), "ok");
      assert.equal(fileContentHash(a), fileContentHash(b));
      assert.ok(!existsSync(`${a}-journal`));
    });
  }

  test("a failing apply is rolled back by SQLite before the lock is released to readers", async () => {
    const a = join(dir, "fail-a.db");
    const b = join(dir, "fail-b.db");
    makeDb(a, 60, "old");
    makeDb(b, 30, "new");
    const want = fileContentHash(a);
    const local = await LocalDb.open(a, { lockTimeoutMs: 1000 });
    try {
      const set = await diffImage(local, b);
      try {
        await assert.rejects(
          local.apply(set, noRecord, (stage) => {
            if (stage === "written") throw new Error("injected");
          }),
          /injected/,
        );
      } finally {
        await set.source.close();
      }
    } finally {
      local.close();
    }
    assert.ok(!existsSync(`${a}-journal`), "the journal was played back and removed");
    assert.equal(integrityCheck(a), "ok");
    assert.equal(fileContentHash(a), want);
  });

  for (const stage of ["journaled", "written"] as const) {
    test(`kill -9 after "${stage}": SQLite rolls the file back from the follower's journal`, async () => {
      const a = join(dir, `kill-${stage}-a.db`);
      const b = join(dir, `kill-${stage}-b.db`);
      makeDb(a, 60, "old");
      makeDb(b, 90, "new");
      const want = fileContentHash(a);
      const bytes = readFileSync(a);
      const r = await runTs(CRASH_CHILD, [a, b, stage]).done;
      assert.equal(r.signal, "SIGKILL", r.stderr);
      assert.ok(existsSync(`${a}-journal`), "a hot journal was left behind");
      assert.equal(
        readFileSync(a).equals(bytes),
        stage === "journaled",
        stage === "written" ? "new pages were on disk at the kill" : "nothing was written yet",
      );
      // An ordinary connection, as any reader opens it.
      assert.deepEqual(tagsOf(a), ["old"]);
      assert.ok(!existsSync(`${a}-journal`));
      assert.equal(integrityCheck(a), "ok");
      assert.equal(fileContentHash(a), want);
    });
  }

  test("a reader's open transaction holds the apply off; it sees the old state, then the new", async () => {
    const a = join(dir, "busy-a.db");
    const b = join(dir, "busy-b.db");
    makeDb(a, 20, "old");
    makeDb(b, 20, "new");
    copyFileSync(a, `${a}.orig`);
    const reader = new Database(a, { fileMustExist: true, timeout: 0 });
    reader.exec("BEGIN");
    assert.deepEqual(
      (reader.prepare("SELECT DISTINCT tag FROM t").all() as Array<{ tag: string }>).map((r) => r.tag),
      ["old"],
    );
    const local = await LocalDb.open(a, { lockTimeoutMs: 200 });
    try {
      const set = await diffImage(local, b);
      try {
        await assert.rejects(
          local.apply(set, noRecord),
          (e: Error & { code?: string; retryable?: boolean }) => {
            assert.equal(e.code, "db_locked");
            assert.equal(e.retryable, true);
            return true;
          },
        );
        // Still inside its transaction, the reader sees exactly what it saw before.
        assert.deepEqual(
          (reader.prepare("SELECT DISTINCT tag FROM t").all() as Array<{ tag: string }>).map((r) => r.tag),
          ["old"],
        );
        reader.exec("COMMIT");
        await local.apply(set, noRecord);
      } finally {
        await set.source.close();
      }
    } finally {
      local.close();
    }
    assert.deepEqual(
      (reader.prepare("SELECT DISTINCT tag FROM t").all() as Array<{ tag: string }>).map((r) => r.tag),
      ["new"],
    );
    reader.close();
  });
});

function file(level: number, min: number, max: number, size = 100): LtxFileInfo {
  return { level, minTXID: BigInt(min), maxTXID: BigInt(max), size, createdAt: 0 };
}

describe("planCatchUp", () => {
  const limits = { maxFiles: 100, maxBytes: 1 << 30 };
  const ranges = (fs: LtxFileInfo[]) => fs.map((f) => `L${f.level}:${f.minTXID}-${f.maxTXID}`);

  test("level 0 first, while it continues", () => {
    const levels = new Map([
      [0, [file(0, 5, 5), file(0, 6, 6), file(0, 7, 7)]],
      [1, [file(1, 1, 7)]],
    ]);
    assert.deepEqual(ranges(planCatchUp(levels, 4n, limits).files), ["L0:5-5", "L0:6-6", "L0:7-7"]);
  });

  test("a compacted file bridges a hole in level 0, overlapping what the follower has", () => {
    const levels = new Map([
      [0, [file(0, 9, 9), file(0, 10, 10)]],
      [1, [file(1, 2, 4), file(1, 3, 8)]],
    ]);
    const p = planCatchUp(levels, 4n, limits);
    assert.deepEqual(ranges(p.files), ["L1:3-8", "L0:9-9", "L0:10-10"]);
    assert.equal(p.txid, 10n);
  });

  test("nothing that starts in time: no files (a gap for the caller)", () => {
    const levels = new Map([[0, [file(0, 9, 9)]]]);
    const p = planCatchUp(levels, 4n, limits);
    assert.deepEqual(p.files, []);
    assert.equal(p.txid, 4n);
  });

  test("limits cut a catch-up into several applies", () => {
    const l0 = Array.from({ length: 10 }, (_, i) => file(0, i + 1, i + 1, 10));
    const levels = new Map([[0, l0]]);
    assert.equal(planCatchUp(levels, 0n, { maxFiles: 4, maxBytes: 1 << 30 }).txid, 4n);
    assert.equal(planCatchUp(levels, 0n, { maxFiles: 100, maxBytes: 35 }).txid, 3n);
    assert.equal(planCatchUp(levels, 0n, { maxFiles: 100, maxBytes: 5 }).txid, 1n, "always one file");
  });
});

describe("progress resolution", () => {
  const p = {
    txid: 9n,
    changeCounter: 101,
    pageSize: 4096,
    previous: { txid: 7n, changeCounter: 100 },
    replica: "x",
    timestamp: 0,
  };
  test("the header's change counter picks the committed point", () => {
    assert.equal(resolveTXID(p, 101), 9n);
    assert.equal(resolveTXID(p, 100), 7n, "crash before the commit point: rolled back to previous");
    assert.equal(resolveTXID(p, 55), null, "anything else is unknown");
    assert.equal(resolveTXID(null, 101), null);
  });
});
