/**
 * Six simulated hours of writes with the replicator, hourly-ish snapshots and the maintainer running after
 * every transaction: object counts per level stay bounded, the latest restore reads about a dozen files,
 * and every point the replica still offers restores to exactly the content recorded at that TXID, by TXID
 * and by timestamp anywhere in the point-in-time window.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SNAPSHOT_LEVEL } from "../../src/replica/client.js";
import { listAll, planRestore } from "../../src/restore/plan.js";
import { restore } from "../../src/restore/restore.js";
import { verifyReplica } from "../../src/verify/verify.js";
import { fileContentHash, integrityCheck } from "../helpers/db.js";
import { Sim } from "./sim.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;
const WINDOW_MS = HOUR;
const SNAPSHOT_EVERY_MS = 30 * MINUTE;
const MAX_STEP_MS = 40_000;

/**
 * Upper bounds per level, from the policy: L0 lives ~5 min after compaction plus one 5-min deletion
 * spacing (at >= 10 s per write); L1..L3 span the window plus the anchor's age (<= one snapshot interval)
 * at their cadence; L9 holds <= 3 hourly + the newest two + the anchor.
 */
const BOUNDS: Record<number, number> = { 0: 70, 1: 200, 2: 25, 3: 5, [SNAPSHOT_LEVEL]: 6 };

test("hours of writes: bounded levels, short restore plans, every retained point restores exactly", async () => {
  // CI runs a fixed seed so a red run always replays; locally each run explores a new one. Seed 95469 once
  // failed because the simulation recorded no content for a TXID captured inside a checkpoint (sim.ts).
  const seed = Number(process.env.WALSHIP_SEED ?? (process.env.CI === "true" ? 1 : Date.now() % 1_000_000));
  const sim = new Sim({
    seed,
    maintainer: { pitrWindowMs: WINDOW_MS, gfs: { hourly: 3, daily: 1, weekly: 0, monthly: 0 } },
  });
  const msg = `seed ${seed}`;
  try {
    await sim.start();
    const end = sim.now + 6 * HOUR;
    let lastSnapshot = sim.now;
    const planLengths: number[] = [];
    const peak: Record<number, number> = {};
    let step = 0;
    while (sim.now < end) {
      sim.now += 10_000 + Math.floor(sim.rnd() * (MAX_STEP_MS - 10_000));
      await sim.writeBatch();
      // Uploads usually land before the next tick; sometimes the maintainer runs while they are in flight.
      if (sim.rnd() < 0.7) await sim.rep.sync();
      if (sim.now - lastSnapshot >= SNAPSHOT_EVERY_MS) {
        await sim.rep.snapshot();
        lastSnapshot = sim.now;
      }
      const r = await sim.run();
      assert.deepEqual(r.errors, [], msg);
      if (++step % 10 === 0) {
        await sim.rep.sync();
        const levels = await listAll(sim.client);
        for (const [level, files] of levels) {
          peak[level] = Math.max(peak[level] ?? 0, files.length);
          assert.ok(
            files.length <= (BOUNDS[level] ?? 0),
            `level ${level} has ${files.length} files (${msg})`,
          );
        }
        planLengths.push(planRestore(levels, {}).files.length);
      }
    }
    await sim.rep.sync();
    await sim.run();
    const levels = await listAll(sim.client);

    // #1510: no compacted level ever merged the database-sized TXID-1 file.
    for (let level = 1; level < SNAPSHOT_LEVEL; level++) {
      for (const f of levels.get(level) ?? []) assert.notEqual(f.minTXID, 1n, `L${level} starts at TXID 1`);
    }
    const mean = planLengths.reduce((a, b) => a + b, 0) / planLengths.length;
    const max = Math.max(...planLengths);
    console.log(
      `peak files per level ${JSON.stringify(peak)}; latest plan length mean ${mean.toFixed(1)}, max ${max}`,
    );
    assert.ok(mean <= 12, `mean plan length ${mean} (${msg})`);
    assert.ok(max <= 22, `max plan length ${max} (${msg})`);

    const v = await verifyReplica(sim.client, { now: sim.now, pitrWindowMs: WINDOW_MS });
    assert.deepEqual(v.problems, [], msg);

    // Every TXID some file ends at is a candidate restore point; the ones with a chain are retained.
    const candidates = new Set<bigint>();
    for (const files of levels.values()) for (const f of files) candidates.add(f.maxTXID);
    const retained = [...candidates]
      .filter((t) => {
        try {
          return planRestore(levels, { txid: t }).txid === t;
        } catch {
          return false;
        }
      })
      .sort((a, b) => (a < b ? -1 : 1));
    const snapshots = (levels.get(SNAPSHOT_LEVEL) ?? []).map((s) => s.maxTXID);
    for (const s of snapshots) assert.ok(retained.includes(s), `snapshot ${s} restorable`);
    const latest = retained[retained.length - 1]!;
    assert.equal(latest, sim.rep.txid);

    // Inside the window restore points are never far apart (L1 granularity, plus the write spacing).
    const windowStart = sim.now - WINDOW_MS;
    const inWindow = retained.filter((t) => sim.stateAt(t).at >= windowStart);
    for (let i = 1; i < inWindow.length; i++) {
      const gap = sim.stateAt(inWindow[i]!).at - sim.stateAt(inWindow[i - 1]!).at;
      assert.ok(gap <= 30_000 + 2 * MAX_STEP_MS, `restore points ${gap} ms apart in the window (${msg})`);
    }

    const picks = new Set<bigint>([...snapshots, latest, inWindow[0]!]);
    while (picks.size < Math.min(retained.length, snapshots.length + 30)) {
      picks.add(retained[Math.floor(sim.rnd() * retained.length)]!);
    }
    for (const txid of picks) {
      const out = join(sim.dir, `r-${txid}.db`);
      const res = await restore(sim.client, { output: out, txid });
      assert.equal(res.txid, txid);
      assert.equal(integrityCheck(out), "ok");
      assert.equal(fileContentHash(out), sim.stateAt(txid).hash, `content at TXID ${txid} (${msg})`);
      rmSync(out);
    }
    for (let i = 0; i < 10; i++) {
      const ts = windowStart + Math.floor(sim.rnd() * WINDOW_MS);
      const out = join(sim.dir, `ts-${i}.db`);
      const res = await restore(sim.client, { output: out, timestamp: ts });
      const state = sim.stateAt(res.txid!);
      assert.ok(
        state.at < ts && ts - state.at <= 30_000 + 2 * MAX_STEP_MS,
        `restore at ${ts} gave ${state.at} (${msg})`,
      );
      assert.equal(fileContentHash(out), state.hash, `content at time ${ts} (${msg})`);
      rmSync(out);
    }
    console.log(`restored ${picks.size} of ${retained.length} retained TXIDs and 10 timestamps`);
  } finally {
    await sim.close();
  }
});
