/**
 * `walship watch --exec`: the app runs as a child; walship forwards SIGTERM, uploads what the app
 * committed (even a database the app created itself and wrote just before exiting), and exits with the
 * app's status. With --restore-if-db-not-exists the database is restored before the app starts.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { splitCommand } from "../../src/exec.js";
import { restore } from "../../src/index.js";
import { repoRoot, runCli, startCli, waitFor } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";

const APP = join(repoRoot, "test", "exec", "app.mjs");
const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

const node = JSON.stringify(process.execPath);
const app = (db: string, rows: number, mode: string) =>
  `${node} ${JSON.stringify(APP)} '${db}' ${rows} ${mode}`;
const FLAGS = ["--no-metrics", "--sync-interval", "100ms"];

async function rowsIn(replica: string, name: string): Promise<number> {
  const out = join(dir, `check-${name}-${Date.now()}.db`);
  await restore({ replica, output: out });
  const db = new Database(out, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) n FROM rows").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test("splitCommand: words, quotes, escapes; errors on an open quote", () => {
  assert.deepEqual(splitCommand(`node  app.js --name 'a b' "c \\"d\\"" e\\ f`), [
    "node",
    "app.js",
    "--name",
    "a b",
    'c "d"',
    "e f",
  ]);
  assert.deepEqual(splitCommand(`'' x`), ["", "x"]);
  assert.throws(() => splitCommand(`node 'oops`), /unterminated/);
  assert.throws(() => splitCommand("   "), /empty/);
});

test("the app creates its database, writes and exits 3: walship uploads everything and exits 3", async () => {
  const db = join(dir, "created.db");
  const replica = join(dir, "created-replica");
  const r = await runCli(["watch", db, replica, ...FLAGS, "--exec", app(db, 25, "exit:3")]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /child exited code=3/);
  assert.equal(await rowsIn(replica, "created"), 25);
});

test("SIGTERM is forwarded to the app; its last write is replicated; exit 0", async () => {
  const db = join(dir, "sig.db");
  const replica = join(dir, "sig-replica");
  const w = startCli(["watch", db, replica, ...FLAGS, "--exec", app(db, 10, "signal")]);
  let out = "";
  w.child.stdout!.on("data", (d) => (out += d));
  await waitFor(() => out.includes("ready"), 20_000, "the app to start");
  await new Promise((r) => setTimeout(r, 300));
  w.child.kill("SIGTERM");
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(out, /got SIGTERM/);
  assert.match(r.stderr, /forwarding SIGTERM to the child/);
  assert.equal(await rowsIn(replica, "sig"), 11);
});

test("an app killed by a signal: walship exits 128 + signal number; a missing program: 127", async () => {
  const db = join(dir, "killed.db");
  const r = await runCli(["watch", db, join(dir, "killed-replica"), ...FLAGS, "--exec", app(db, 3, "kill")]);
  assert.equal(r.code, 137, r.stderr);
  const r2 = await runCli([
    "watch",
    join(dir, "none.db"),
    join(dir, "none-replica"),
    ...FLAGS,
    "--exec",
    "/nonexistent/app",
  ]);
  assert.equal(r2.code, 127, r2.stderr);
  assert.match(r2.stderr, /cannot run \/nonexistent\/app: ENOENT/);
});

test("--restore-if-db-not-exists restores before the app starts", async () => {
  const db = join(dir, "boot.db");
  const replica = join(dir, "boot-replica");
  const first = await runCli(["watch", db, replica, ...FLAGS, "--exec", app(db, 42, "exit:0")]);
  assert.equal(first.code, 0, first.stderr);
  for (const suffix of ["", "-wal", "-shm"]) rmSync(db + suffix, { force: true });
  rmSync(join(dir, ".boot.db-walship"), { recursive: true, force: true });
  const second = await runCli([
    "watch",
    db,
    replica,
    ...FLAGS,
    "--restore-if-db-not-exists",
    "--exec",
    app(db, 0, "count"),
  ]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /count=42/);
  assert.match(second.stderr, /restored missing database/);
});
