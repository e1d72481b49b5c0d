/**
 * One `walship watch` process, one glob, 100 databases, against a directory replica; a 101st database is
 * created while it runs and must be picked up. Every database is then restored and must equal its source.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { restore } from "../../src/index.js";
import { GLOB_POLL_INTERVAL_MS } from "../../src/store.js";
import { startCli, waitFor } from "../helpers/cli.js";
import { createWalDb, fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";

const COUNT = 100;
const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

function status(db: string): { txid: string; replicaTXID: string; pid: number } | null {
  const p = join(db, "..", `.${db.split("/").pop()}-walship`, "status.json");
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8"));
  } catch {
    return null;
  }
}

function caughtUp(db: string, pid: number): boolean {
  const s = status(db);
  return s !== null && s.pid === pid && s.txid === s.replicaTXID && s.txid !== "0000000000000000";
}

function addRows(path: string, n: number, tag: string): void {
  const db = createWalDb(path);
  const ins = db.prepare("INSERT INTO rows (body, at) VALUES (?, ?)");
  for (let i = 0; i < n; i++) ins.run(Buffer.from(`${tag}-${i}`), i);
  db.close();
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

test(`${COUNT} databases from one glob in one process, plus one created while running; all restorable`, async (t) => {
  const data = join(dir, "data");
  mkdirSync(data);
  const dbs = Array.from({ length: COUNT }, (_, i) => join(data, `tenant-${String(i).padStart(3, "0")}.db`));
  for (const db of dbs) addRows(db, 3, db);
  const cfg = join(dir, "walship.toml");
  writeFileSync(
    cfg,
    `[metrics]\nenabled = false\n\n[[databases]]\npath = "data/*.db"\nreplica = "backups"\nsync-interval = "250ms"\n`,
  );
  const w = startCli(["watch", "--config", cfg]);
  try {
    const pid = w.child.pid!;
    await waitFor(() => dbs.every((db) => caughtUp(db, pid)), 120_000, `all ${COUNT} databases to replicate`);
    const late = join(data, "tenant-late.db");
    addRows(late, 5, "late");
    await waitFor(
      () => caughtUp(late, pid),
      30_000 + 3 * GLOB_POLL_INTERVAL_MS,
      "the new database to be picked up",
    );
    // Writes after start reach the replica too.
    for (const db of dbs.slice(0, 10)) addRows(db, 2, "more");
    addRows(late, 2, "more");
    await waitFor(
      () =>
        [...dbs.slice(0, 10), late].every(
          (db) => caughtUp(db, pid) && status(db)!.txid !== "0000000000000001",
        ),
      30_000,
      "later writes to replicate",
    );
    t.diagnostic(`RSS of walship watch with ${COUNT + 1} databases: ${(rssKiB(pid) / 1024).toFixed(1)} MiB`);
    w.child.kill("SIGTERM");
    const res = await w.done;
    assert.equal(res.code, 0, res.stderr.slice(-2000));
    assert.match(res.stderr, /replicating db=\S+tenant-late\.db/);

    const out = join(dir, "restored");
    mkdirSync(out);
    for (const db of [...dbs, late]) {
      const name = db.split("/").pop()!;
      const r = await restore({ replica: join(dir, "backups", name), output: join(out, name) });
      assert.equal(r.status, "restored", name);
      assert.equal(integrityCheck(join(out, name)), "ok");
      assert.equal(fileContentHash(join(out, name)), fileContentHash(db), `${name} restored equal`);
    }
    const n = new Database(join(out, "tenant-late.db"), { readonly: true });
    assert.equal((n.prepare("SELECT count(*) n FROM rows").get() as { n: number }).n, 7);
    n.close();
  } finally {
    if (w.child.exitCode === null) w.child.kill("SIGKILL");
  }
});
