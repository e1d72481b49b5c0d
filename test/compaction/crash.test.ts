/**
 * Compaction and retention interrupted anywhere (an abort at a random request, a write that dies
 * mid-body, a delete that removes only some files, a process restart with nothing remembered) and
 * running concurrently with writes and uploads never leave the replica unrestorable: after every round
 * the replica verifies and restores to exactly the newest uploaded content.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { listAll, planRestore } from "../../src/restore/plan.js";
import { restore } from "../../src/restore/restore.js";
import { verifyReplica } from "../../src/verify/verify.js";
import { fileContentHash } from "../helpers/db.js";
import { FaultyClient } from "./faulty-client.js";
import { Sim } from "./sim.js";

const HOUR = 3_600_000;

test("interrupted and concurrent maintenance never makes the replica unrestorable", async () => {
  const seed = Number(process.env.WALSHIP_SEED ?? Date.now() % 1_000_000);
  const msg = `seed ${seed}`;
  let faulty: FaultyClient | null = null;
  const stats = { fired: 0 };
  const sim = new Sim({
    seed,
    maintainer: {
      pitrWindowMs: 20 * 60_000,
      l0RetentionMs: 60_000,
      deleteIntervalMs: 60_000,
      gfs: { hourly: 2, daily: 0, weekly: 0, monthly: 0 },
    },
    wrap: (c) => {
      faulty = new FaultyClient(c, stats);
      return faulty;
    },
  });
  const client = () => faulty!;
  let aborted = 0;
  let failed = 0;
  let compactions = 0;
  let deleted = 0;
  try {
    await sim.start();
    const end = sim.now + 2 * HOUR;
    let lastSnapshot = sim.now;
    let round = 0;
    while (sim.now < end) {
      sim.now += 10_000 + Math.floor(sim.rnd() * 30_000);
      await sim.writeBatch();
      if (sim.now - lastSnapshot >= 15 * 60_000) {
        await sim.rep.snapshot();
        lastSnapshot = sim.now;
      }
      if (sim.rnd() < 0.1) sim.newMaintainer(); // a restart: no cache, no schedule
      const ac = new AbortController();
      const dice = sim.rnd();
      if (dice < 0.15)
        client().arm({ kind: "abort", atRequest: 1 + Math.floor(sim.rnd() * 12), controller: ac });
      else if (dice < 0.25) client().arm({ kind: "write-fails", afterChunks: Math.floor(sim.rnd() * 3) });
      else if (dice < 0.35) client().arm({ kind: "delete-partial" });
      else client().arm({ kind: "none" });
      // The run overlaps the next transaction and its upload.
      const running = sim.run(ac.signal);
      await sim.writeBatch();
      await sim.rep.sync();
      const r = await running;
      compactions += r.compactions.length;
      deleted += r.deleted.length;
      if (r.errors.some((e) => e.code === "aborted")) aborted++;
      else if (r.errors.length > 0) failed++;
      if (++round % 20 === 0) {
        await sim.rep.sync();
        const v = await verifyReplica(sim.client, { now: sim.now, pitrWindowMs: 20 * 60_000 });
        assert.deepEqual(v.problems, [], `round ${round} (${msg})`);
        const out = join(sim.dir, `latest-${round}.db`);
        const res = await restore(sim.client, { output: out });
        assert.equal(res.txid, sim.rep.txid, msg);
        assert.equal(
          fileContentHash(out),
          sim.stateAt(res.txid!).hash,
          `latest content, round ${round} (${msg})`,
        );
        rmSync(out);
      }
    }
    // Everything settles once the faults stop.
    client().arm({ kind: "none" });
    sim.newMaintainer();
    sim.now += 10 * 60_000;
    await sim.rep.sync();
    const final = await sim.run();
    assert.deepEqual(final.errors, [], msg);
    const levels = await listAll(sim.client);
    const plan = planRestore(levels, {});
    assert.equal(plan.txid, sim.rep.txid);
    const v = await verifyReplica(sim.client, { now: sim.now, pitrWindowMs: 20 * 60_000, deep: true });
    assert.deepEqual(v.problems, [], msg);
    console.log(
      `faults fired ${stats.fired}: ${aborted} runs aborted, ${failed} failed; ${compactions} compactions, ${deleted} deletions; files ${[...levels].map(([l, f]) => `L${l}=${f.length}`).join(" ")}`,
    );
    assert.ok(
      stats.fired >= 20 && aborted >= 5 && failed >= 5,
      `faults happened (${aborted} aborted, ${failed} failed)`,
    );
    assert.ok(compactions > 50 && deleted > 50, "maintenance made progress despite the faults");
  } finally {
    await sim.close();
  }
});
