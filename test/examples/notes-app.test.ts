/**
 * The example app, run as a user would: it boots with no database (nothing to restore), takes writes
 * (each acknowledged only once on the replica), shuts down cleanly on SIGTERM; on a "new machine" (the
 * database and walship's local state gone) it restores on boot and has every acknowledged note.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { restore } from "../../src/index.js";
import { repoRoot } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";

const APP = join(repoRoot, "examples", "notes-app", "server.mjs");
const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

function startApp(env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, [APP], {
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("close", (code) => reject(new Error(`app exited ${code}:\n${out}`)));
  });
  url.catch(() => {});
  const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, url, done, output: () => out };
}

test("example app: restore-if-missing on boot, durable writes, clean shutdown", async () => {
  const env = { DB_PATH: join(dir, "data", "notes.db"), REPLICA_URL: join(dir, "replica") };
  const first = startApp(env);
  const url = await first.url;
  for (const text of ["one", "two", "three"]) {
    const res = await fetch(`${url}/notes`, { method: "POST", body: text });
    assert.equal(res.status, 201, await res.text());
  }
  first.child.kill("SIGTERM");
  assert.equal(await first.done, 0, first.output());
  assert.match(first.output(), /no restore \(no backup in replica\)/);
  assert.match(first.output(), /replica is up to date/);

  // A new machine: no database, no walship state next to it.
  rmSync(join(dir, "data"), { recursive: true, force: true });
  const second = startApp(env);
  const url2 = await second.url;
  const notes = (await (await fetch(`${url2}/notes`)).json()) as Array<{ text: string }>;
  assert.deepEqual(
    notes.map((n) => n.text),
    ["one", "two", "three"],
  );
  assert.match(second.output(), /boot: restored at TXID/);
  assert.equal((await fetch(`${url2}/notes`, { method: "POST", body: "four" })).status, 201);
  second.child.kill("SIGTERM");
  assert.equal(await second.done, 0, second.output());

  const out = join(dir, "check.db");
  await restore({ replica: env.REPLICA_URL, output: out });
  const db = new Database(out, { readonly: true });
  assert.equal((db.prepare("SELECT count(*) n FROM notes").get() as { n: number }).n, 4);
  db.close();
});
