/**
 * `walship replicate` and `follow()` at their edges: usage errors, an existing database that no follower
 * wrote (refused, or adopted with --force), an empty replica (wait, then bootstrap when a backup appears),
 * a replica rewound to a different, shorter history, and the library handle's status and close.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { after, test } from "node:test";
import type { FollowEvent } from "../../src/follow/events.js";
import { follow } from "../../src/follow/follow.js";
import { runCli, startCli, waitFor } from "../helpers/cli.js";
import { fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";
import { initPrimary, primaryState, progressTXID, startWriter, watchStatus } from "./helpers.js";

const dir = tempDir("walship-follow-cli-");
after(() => rmSync(dir, { recursive: true, force: true }));

/** A primary with `seconds` of writes, replicated to `replica` and stopped (everything uploaded). */
async function primaryWithReplica(
  name: string,
  seconds: number,
  replicaPath?: string,
): Promise<{ db: string; replica: string }> {
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  const db = join(sub, "primary.db");
  const replica = replicaPath ?? join(sub, "replica");
  await initPrimary(db);
  const watch = startCli(["watch", db, replica, "--sync-interval", "100ms"]);
  await waitFor(() => watchStatus(db) !== null, 20_000, "walship watch to start");
  const w = startWriter(db, 50, seconds);
  assert.equal((await w.done).code, 0);
  watch.child.kill("SIGTERM");
  assert.equal((await watch.done).code, 0);
  return { db, replica };
}

test("usage errors exit 2", async () => {
  assert.equal((await runCli(["replicate"])).code, 2);
  assert.equal((await runCli(["replicate", join(dir, "r")])).code, 2, "--local is required");
  assert.equal(
    (await runCli(["replicate", join(dir, "r"), "--local", "x.db", "--interval", "soon"])).code,
    2,
  );
  const help = await runCli(["replicate", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--local PATH/);
});

test("an existing database no follower wrote is refused, and adopted with --force", async () => {
  const p = await primaryWithReplica("adopt", 1);
  const local = join(dir, "adopt", "mine.db");
  copyFileSync(p.db, local);
  const refused = await runCli(["replicate", p.replica, "--local", local]);
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /--force/);
  const f = startCli(["replicate", p.replica, "--local", local, "--force", "--interval", "100ms"]);
  await waitFor(() => progressTXID(local) !== null, 20_000, "adoption");
  f.child.kill("SIGTERM");
  const r = await f.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /bootstrapped .*reason=unknown/);
  assert.equal(integrityCheck(local), "ok");
  assert.equal(fileContentHash(local), fileContentHash(p.db));
});

test("an empty replica is waited for; the first backup bootstraps the follower", async () => {
  const sub = join(dir, "empty");
  mkdirSync(sub, { recursive: true });
  const db = join(sub, "primary.db");
  const replica = join(sub, "replica");
  const local = join(sub, "follower.db");
  const events: FollowEvent[] = [];
  const ready = follow({ replica, local, intervalMs: 100, onEvent: (e) => events.push(e) });
  await waitFor(() => events.some((e) => e.type === "waiting"), 10_000, "the follower to wait");
  assert.ok(!existsSync(local));
  await initPrimary(db);
  const watch = startCli(["watch", db, replica, "--sync-interval", "100ms"]);
  const w = startWriter(db, 50, 1);
  const f = await ready;
  try {
    assert.equal((await w.done).code, 0);
    watch.child.kill("SIGTERM");
    assert.equal((await watch.done).code, 0);
    const last = await replicaTXIDOf(replica);
    await waitFor(() => BigInt(`0x${f.status().txid}`) >= last, 20_000, "the follower to catch up");
    const s = f.status();
    assert.equal(s.state, "following");
    assert.equal(s.txid, s.replicaTXID);
    assert.equal(s.bootstraps, 1);
    assert.ok(s.lagSeconds >= 0 && s.lagSeconds < 60);
    assert.equal(s.errors, 0, s.lastError ?? "");
    await waitFor(() => statusFileOf(local)?.txid === s.txid, 5_000, "status.json to follow");
  } finally {
    await f.close();
    await f.close();
  }
  assert.equal(f.status().state, "closed");
  assert.equal(statusFileOf(local)?.state, "closed");
  assert.equal(fileContentHash(local), fileContentHash(db));
  assert.ok(events.some((e) => e.type === "bootstrapped" && e.reason === "missing"));
});

/** The follower's status file, for `walship status` and scripts. */
function statusFileOf(local: string): { txid: string; state: string; pid: number } | null {
  try {
    return JSON.parse(
      readFileSync(join(dirname(local), `.${basename(local)}-walship-follow`, "status.json"), "utf8"),
    );
  } catch {
    return null;
  }
}

async function replicaTXIDOf(replica: string): Promise<bigint> {
  const r = await runCli(["ltx", replica, "--level", "0", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const files = JSON.parse(r.stdout) as Array<{ maxTXID: string }>;
  return BigInt(`0x${files[files.length - 1]!.maxTXID}`);
}

test("a replica rewound to another, shorter history is re-bootstrapped in place", async () => {
  const long = await primaryWithReplica("rewind-a", 3);
  const local = join(dir, "rewind-a", "follower.db");
  let f = startCli(["replicate", long.replica, "--local", local, "--interval", "100ms"]);
  const before = await replicaTXIDOf(long.replica);
  await waitFor(() => (progressTXID(local) ?? 0n) >= before, 20_000, "the follower to catch up");
  f.child.kill("SIGTERM");
  assert.equal((await f.done).code, 0);
  // The replica path now holds a different database's shorter history.
  rmSync(long.replica, { recursive: true, force: true });
  const short = await primaryWithReplica("rewind-b", 0.2, long.replica);
  f = startCli(["replicate", short.replica, "--local", local, "--interval", "100ms"]);
  const after = await replicaTXIDOf(short.replica);
  assert.ok(after < before, `the new history is shorter (${after} < ${before})`);
  await waitFor(() => progressTXID(local) === after, 20_000, "the follower to rewind");
  f.child.kill("SIGTERM");
  const r = await f.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /bootstrapped .*reason=rewound/);
  assert.equal(integrityCheck(local), "ok");
  assert.equal(fileContentHash(local), fileContentHash(short.db));
  assert.ok(primaryState(local) >= 0);
});
