/**
 * `walship restore` guards and flags: never overwrite without --force, the two "if" flags exit 0 in their
 * cases, --dry-run changes nothing, and a damaged replica file is rejected by name (exit 7).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { runCli } from "../helpers/cli.js";
import { contentHash, createWalDb, fileContentHash, tempDir } from "../helpers/db.js";

const dir = tempDir();
const replica = join(dir, "replica");
const db = join(dir, "app.db");
let expected = "";

before(async () => {
  const conn = createWalDb(db);
  const rep = new Replicator({ db, replica: new FileReplicaClient(replica), syncIntervalMs: 3_600_000 });
  await rep.start();
  const ins = conn.prepare("INSERT INTO rows (body, at) VALUES (randomblob(500), ?)");
  for (let i = 0; i < 20; i++) {
    ins.run(i);
    await rep.captureNow();
  }
  await rep.sync();
  expected = contentHash(conn);
  await rep.close();
  conn.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("refuses to overwrite an existing database without --force, replaces it with --force", async () => {
  const out = join(dir, "exists.db");
  writeFileSync(out, "precious");
  const r = await runCli(["restore", replica, "-o", out]);
  assert.equal(r.code, EXIT_CODES.database, r.stderr);
  assert.match(r.stderr, /already exists.*--force/);
  assert.equal(readFileSync(out, "utf8"), "precious", "untouched");
  writeFileSync(`${out}-wal`, "stale wal");
  const f = await runCli(["restore", replica, "-o", out, "--force"]);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(existsSync(`${out}-wal`), false, "stale -wal removed with --force");
  assert.equal(fileContentHash(out), expected);
});

test("--if-db-not-exists exits 0 and leaves an existing database alone", async () => {
  const out = join(dir, "keep.db");
  writeFileSync(out, "mine");
  const r = await runCli(["restore", replica, "-o", out, "--if-db-not-exists"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out, "utf8"), "mine");
});

test("--if-replica-exists exits 0 on an empty replica; without it that is exit 6", async () => {
  const empty = join(dir, "empty-replica");
  const out = join(dir, "none.db");
  const r = await runCli(["restore", empty, "-o", out, "--if-replica-exists"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(out), false);
  const r2 = await runCli(["restore", empty, "-o", out]);
  assert.equal(r2.code, EXIT_CODES.notFound, r2.stderr);
  assert.match(r2.stderr, /no backup files/);
});

test("--dry-run --json prints the plan and writes nothing", async () => {
  const out = join(dir, "dry.db");
  const r = await runCli(["restore", replica, "-o", out, "--dry-run", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { status: string; txid: string; files: Array<{ level: number }> };
  assert.equal(plan.status, "planned");
  assert.ok(plan.files.length >= 1);
  assert.equal(existsSync(out), false);
});

test("a corrupted replica file is rejected with an error naming it, and no output is left", async () => {
  const copy = join(dir, "damaged");
  await runCli(["restore", replica, "-o", join(dir, "probe.db")]);
  // Copy the replica and flip one byte in the middle of one L0 file.
  const { cpSync } = await import("node:fs");
  cpSync(replica, copy, { recursive: true });
  const l0 = join(copy, "ltx", "0");
  const victim = readdirSync(l0).sort()[5]!;
  const bytes = readFileSync(join(l0, victim));
  bytes[120] ^= 0xff;
  writeFileSync(join(l0, victim), bytes);
  const out = join(dir, "damaged.db");
  const r = await runCli(["restore", copy, "-o", out]);
  assert.equal(r.code, EXIT_CODES.corruption, r.stderr);
  assert.ok(r.stderr.includes(victim), `error names ${victim}: ${r.stderr}`);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.tmp`), false);
});

test("bad arguments are usage errors (exit 2)", async () => {
  for (const args of [
    ["restore"],
    ["restore", replica],
    ["restore", replica, "-o", "x.db", "--txid", "zz"],
    ["restore", replica, "-o", "x.db", "--txid", "1", "--timestamp", "2026-01-01T00:00:00Z"],
    ["restore", replica, "-o", "x.db", "--timestamp", "yesterday"],
    ["restore", "ftp://nope/x", "-o", "x.db"],
    ["watch", db],
    ["nonsense"],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, EXIT_CODES.usage, `${args.join(" ")}: ${r.stderr}`);
  }
});
