/**
 * kill -9 of the follower at random moments while the primary keeps committing under `walship watch`,
 * for many rounds. Rounds alternate between the real CLI (`walship replicate`) and a follower process
 * that pauses inside every apply while holding the lock, so kills also land between journal and commit.
 * Two reader processes query the follower's database through all of it.
 *
 * After every kill: the file passes integrity_check (a hot journal, if any, is rolled back by SQLite on
 * open), it holds a state the primary had, and its content equals the replica restored at the TXID the
 * progress file resolves to. After the last round a clean run converges to the primary.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { readDbHeader } from "../../src/follow/header.js";
import { type Backend, fileBackend } from "../helpers/backends.js";
import { type CliResult, startCli, waitFor } from "../helpers/cli.js";
import { fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";
import { makeRandom } from "../helpers/random.js";
import {
  assertReadersClean,
  FOLLOWER_PROC,
  initPrimary,
  primaryState,
  replicaMaxTXID,
  restoredHash,
  runTs,
  startReaders,
  startWriter,
  stopWriter,
  summarizeReaders,
  watchStatus,
} from "./helpers.js";

/** The acceptance floor is 20 rounds; outside CI a developer may run fewer. */
const ROUNDS =
  process.env.CI === "true"
    ? Math.max(20, Number(process.env.WALSHIP_FOLLOW_KILL_ROUNDS ?? 20))
    : Number(process.env.WALSHIP_FOLLOW_KILL_ROUNDS ?? 20);

const dir = tempDir("walship-follow-crash-");
after(() => rmSync(dir, { recursive: true, force: true }));

/** The TXID the file holds: the progress file's point whose change counter the header carries. */
function resolvedTXID(local: string): bigint {
  const p = JSON.parse(readFileSync(`${local}-walship-follow.json`, "utf8")) as {
    txid: string;
    changeCounter: number;
    previous: { txid: string; changeCounter: number } | null;
  };
  const counter = readDbHeader(new Uint8Array(readFileSync(local).subarray(0, 100))).changeCounter;
  if (counter === p.changeCounter) return BigInt(`0x${p.txid}`);
  if (p.previous && counter === p.previous.changeCounter) return BigInt(`0x${p.previous.txid}`);
  throw new Error(`progress file ${JSON.stringify(p)} does not match header change counter ${counter}`);
}

function startFollower(b: Backend, url: string, local: string, hooked: boolean, seed: number) {
  if (hooked) return runTs(FOLLOWER_PROC, [b.url("kill"), local, "100", "600", String(seed)]);
  return startCli(["replicate", url, "--local", local, "--interval", "100ms", "--json"], b.env);
}

test(`file: ${ROUNDS} rounds of kill -9 of the follower; every restart resumes, converges and checks ok`, async () => {
  const seed = Number(process.env.WALSHIP_SEED ?? Date.now() % 1_000_000);
  const rnd = makeRandom(seed);
  const b = fileBackend(dir);
  const db = join(dir, "primary.db");
  const local = join(dir, "follower.db");
  const url = b.url("kill");
  await initPrimary(db);
  const watch = startCli(["watch", db, url, "--sync-interval", "200ms"], b.env);
  await waitFor(() => watchStatus(db) !== null, 20_000, "walship watch to start");
  const writer = startWriter(db, 50);
  let readers: ReturnType<typeof startReaders> | null = null;
  let midApply = 0;
  const checked = new Set<bigint>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const hooked = round % 2 === 1;
      const f = startFollower(b, url, local, hooked, seed + round);
      let out: CliResult | null = null;
      void f.done.then((r) => (out = r));
      let stdout = "";
      f.child.stdout!.on("data", (d) => (stdout += d));
      await waitFor(
        () => /"(poll|started)"|"txid"/.test(stdout) || out !== null,
        30_000,
        `follower round ${round} to start (seed ${seed})`,
      );
      assert.equal(out, null, `follower round ${round} exited early: ${(out as CliResult | null)?.stderr}`);
      readers ??= startReaders(local, 2);
      await new Promise((r) => setTimeout(r, 50 + rnd() * 1200));
      f.child.kill("SIGKILL");
      const r = await f.done;
      if (hooked) {
        const events = r.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { type: string });
        const last = events
          .filter((e) => e.type === "stage" || e.type === "applied" || e.type === "poll")
          .pop();
        if (last?.type === "stage") midApply++;
      }
      const why = `round ${round} (${hooked ? "hooked" : "cli"}, seed ${seed})`;
      assert.equal(integrityCheck(local), "ok", `integrity after kill, ${why}`);
      const k = primaryState(local);
      const txid = resolvedTXID(local);
      if (!checked.has(txid)) {
        checked.add(txid);
        const want = await restoredHash(b, url, txid, join(dir, "at.db"));
        assert.equal(fileContentHash(local), want, `content at TXID ${txid} (k=${k}) after kill, ${why}`);
      }
    }
  } finally {
    if (writer.child.exitCode === null) await stopWriter(writer);
    watch.child.kill("SIGTERM");
    assert.equal((await watch.done).code, 0);
  }
  const final = await replicaMaxTXID(b, "kill");
  const f = startCli(["replicate", url, "--local", local, "--interval", "100ms", "--json"], b.env);
  try {
    await waitFor(
      () => {
        try {
          return resolvedTXID(local) >= final;
        } catch {
          return false;
        }
      },
      60_000,
      `the follower to converge (seed ${seed})`,
    );
  } finally {
    f.child.kill("SIGTERM");
    assert.equal((await f.done).code, 0);
  }
  const rs = await readers!.stop();
  assertReadersClean(rs);
  assert.equal(integrityCheck(local), "ok");
  assert.equal(fileContentHash(local), fileContentHash(db), "converged to the primary");
  const conn = new Database(local);
  assert.equal(conn.pragma("journal_mode", { simple: true }), "delete");
  conn.close();
  const report = `${ROUNDS} kills (${midApply} inside an apply, after the journal), ${checked.size} distinct TXIDs checked against restore; ${summarizeReaders(rs)}`;
  console.log(`# ${report}`);
  if (ROUNDS >= 10) assert.ok(midApply > 0, `some kills landed inside an apply (seed ${seed})`);
});
