/**
 * kill -9 of `walship watch` at random moments while a writer keeps committing, then a restart, for many
 * rounds: the TXID chain continues with no gap and no duplicate, every TXID walship had confirmed (its
 * status file's replica position) restores, and the final restore equals the source.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { formatTXID } from "../../src/ltx/filename.js";
import { type Backend, fileBackend, s3Backend } from "../helpers/backends.js";
import { repoRoot, runCli, runNode, startCli, waitFor } from "../helpers/cli.js";
import { createWalDb, fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";
import { makeRandom } from "../helpers/random.js";

const WRITER = join(repoRoot, "test", "helpers", "writer.mjs");
const ROUNDS = Number(process.env.WALSHIP_CRASH_ROUNDS ?? 20);

function status(db: string): { txid: string; replicaTXID: string; pid: number } | null {
  const p = join(db, "..", `.${db.split("/").pop()}-walship`, "status.json");
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8"));
  } catch {
    return null;
  }
}

async function crashRounds(b: Backend, dir: string, seed: number): Promise<void> {
  const rnd = makeRandom(seed);
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "app.db");
  createWalDb(db).close();
  const url = b.url("crash");
  const writer = runNode(WRITER, [db, "50", "3600"]);
  const confirmed: bigint[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const w = startCli(["watch", db, url], b.env);
      const pid = w.child.pid;
      await waitFor(() => status(db)?.pid === pid, 20_000, `watch round ${round} to start (seed ${seed})`);
      await new Promise((r) => setTimeout(r, 200 + rnd() * 1500));
      const s = status(db);
      w.child.kill("SIGKILL");
      await w.done;
      if (s) confirmed.push(BigInt(`0x${s.replicaTXID}`));
    }
  } finally {
    writer.child.kill("SIGTERM");
    await writer.done;
  }
  // One clean run to ship the rest.
  const w = startCli(["watch", db, url], b.env);
  await waitFor(() => status(db)?.pid === w.child.pid, 20_000, "final watch to start");
  await waitFor(
    () => {
      const s = status(db);
      return s !== null && s.txid === s.replicaTXID && s.pid === w.child.pid;
    },
    30_000,
    "final upload",
  );
  w.child.kill("SIGTERM");
  assert.equal((await w.done).code, 0);

  // The chain: level 0 plus snapshots must leave no gap and no overlap.
  const list = await runCli(["ltx", url, "--level", "0", "--json"], b.env);
  assert.equal(list.code, 0, list.stderr);
  const l0 = (JSON.parse(list.stdout) as Array<{ minTXID: string; maxTXID: string }>).map((f) => ({
    min: BigInt(`0x${f.minTXID}`),
    max: BigInt(`0x${f.maxTXID}`),
  }));
  assert.equal(l0[0]?.min, 1n, `chain starts at 1 (seed ${seed})`);
  for (let i = 1; i < l0.length; i++) {
    assert.equal(
      l0[i]!.min,
      l0[i - 1]!.max + 1n,
      `no gap or duplicate at ${formatTXID(l0[i]!.min)} (seed ${seed})`,
    );
  }

  for (const txid of new Set(confirmed)) {
    if (txid === 0n) continue;
    const out = join(dir, `confirmed-${txid}.db`);
    const r = await runCli(["restore", url, "-o", out, "--txid", formatTXID(txid)], b.env);
    assert.equal(r.code, 0, `confirmed TXID ${formatTXID(txid)} restores (seed ${seed}): ${r.stderr}`);
    assert.equal(integrityCheck(out), "ok");
    rmSync(out);
  }
  const out = join(dir, "final.db");
  const r = await runCli(["restore", url, "-o", out], b.env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(integrityCheck(out), "ok");
  assert.equal(fileContentHash(out), fileContentHash(db), `final content (seed ${seed})`);
}

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

test(`file: ${ROUNDS} rounds of kill -9 and restart lose nothing`, async () => {
  const seed = Number(process.env.WALSHIP_SEED ?? Date.now() % 1_000_000);
  const sub = join(dir, "file");
  await crashRounds(fileBackend(sub), sub, seed);
});

test(`s3: ${ROUNDS} rounds of kill -9 and restart lose nothing`, async (t) => {
  const b = await s3Backend();
  if ("skip" in b) return t.skip(b.skip);
  try {
    const seed = Number(process.env.WALSHIP_SEED ?? Date.now() % 1_000_000);
    const sub = join(dir, "s3");
    await crashRounds(b, sub, seed);
  } finally {
    await b.stop();
  }
});
