/** The store in process: a glob match that is not a WAL database yet waits, deleted databases are let go. */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { DatabaseSpec } from "../../src/config/resolve.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { Store, type StoreEvent } from "../../src/store.js";
import { waitFor } from "../helpers/cli.js";
import { createWalDb, tempDir } from "../helpers/db.js";

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

function specs(pairs: Array<{ db: string; replica: string }>): DatabaseSpec[] {
  return resolveConfig(null, { syncIntervalMs: 100 }, pairs, {}).databases;
}

test("glob: a non-WAL file waits until it is a WAL database; a deleted database is removed", async () => {
  const events: StoreEvent[] = [];
  const store = new Store({
    databases: specs([{ db: join(dir, "g", "*.db"), replica: join(dir, "bk") }]),
    globPollIntervalMs: 100,
    onEvent: (e) => events.push(e),
  });
  mkdirSync(join(dir, "g"));
  createWalDb(join(dir, "g", "a.db")).close();
  writeFileSync(join(dir, "g", "b.db"), "");
  await store.start();
  try {
    assert.deepEqual(
      store.views().map((v) => [v.db.split("/").pop(), v.state]),
      [
        ["a.db", "running"],
        ["b.db", "waiting"],
      ],
    );
    assert.ok(events.some((e) => e.type === "waiting" && e.db.endsWith("b.db")));
    rmSync(join(dir, "g", "b.db"));
    createWalDb(join(dir, "g", "b.db")).close();
    await waitFor(() => store.views().every((v) => v.state === "running"), 5_000, "b.db to start");
    unlinkSync(join(dir, "g", "a.db"));
    await waitFor(
      () => events.some((e) => e.type === "removed" && e.db.endsWith("a.db")),
      5_000,
      "a.db removed",
    );
    assert.deepEqual(
      store.views().map((v) => v.db.split("/").pop()),
      ["b.db"],
    );
  } finally {
    const results = await store.close({ deadlineMs: 5_000 });
    assert.ok(results.every((r) => r.drained));
  }
});

test("a listed database that is missing fails start, unless waitForListed (--exec) is set", async () => {
  const db = join(dir, "later.db");
  const s1 = new Store({ databases: specs([{ db, replica: join(dir, "bk-later") }]) });
  await assert.rejects(s1.start(), (e: Error & { code?: string }) => e.code === "db_missing");
  await s1.close();
  const s2 = new Store({
    databases: specs([{ db, replica: join(dir, "bk-later") }]),
    waitForListed: true,
    globPollIntervalMs: 100,
  });
  await s2.start();
  try {
    assert.equal(s2.views()[0]!.state, "waiting");
    createWalDb(db).close();
    await waitFor(() => s2.views()[0]!.state === "running", 5_000, "the database to start");
  } finally {
    await s2.close();
  }
});
