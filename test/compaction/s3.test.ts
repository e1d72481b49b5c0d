/**
 * The maintainer against a real S3-compatible server (versitygw): streamed compaction uploads, ranged
 * input reads, batched deletes and the CLI's verify all work on the S3 layout, and the replica restores.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { command as verify } from "../../src/cli/verify.js";
import { restore } from "../../src/restore/restore.js";
import { verifyReplica } from "../../src/verify/verify.js";
import { s3Backend } from "../helpers/backends.js";
import { fileContentHash } from "../helpers/db.js";
import { runCommand } from "../verify/replica.js";
import { Sim } from "./sim.js";

test("maintenance on S3: compaction, retention, verify and restore", async (t) => {
  const backend = await s3Backend();
  if ("skip" in backend) {
    t.skip(backend.skip);
    return;
  }
  const sim = new Sim({
    seed: 5,
    // S3 reports LastModified (real time) as createdAt: start the simulated clock at the real one.
    start: Date.now(),
    maintainer: { pitrWindowMs: 15 * 60_000, gfs: { hourly: 1, daily: 0, weekly: 0, monthly: 0 } },
    clients: { replica: backend.client("db"), maint: backend.client("db") },
  });
  try {
    await sim.start();
    let lastSnapshot = sim.now;
    const end = sim.now + 45 * 60_000;
    let compacted = 0;
    let deleted = 0;
    while (sim.now < end) {
      sim.now += 15_000 + Math.floor(sim.rnd() * 15_000);
      await sim.writeBatch();
      await sim.rep.sync();
      if (sim.now - lastSnapshot >= 10 * 60_000) {
        await sim.rep.snapshot();
        lastSnapshot = sim.now;
      }
      const r = await sim.run();
      assert.deepEqual(r.errors, []);
      compacted += r.compactions.length;
      deleted += r.deleted.length;
    }
    assert.ok(compacted > 20 && deleted > 20, `${compacted} compactions, ${deleted} deletions`);
    const v = await verifyReplica(sim.client, { now: sim.now, pitrWindowMs: 15 * 60_000 });
    assert.deepEqual(v.problems, []);
    const cli = await runCommand(verify, [backend.url("db"), "--deep"], backend.env);
    assert.equal(cli.code, 0, cli.stdout);
    const out = join(sim.dir, "s3-latest.db");
    const res = await restore(sim.client, { output: out });
    assert.equal(res.txid, sim.rep.txid);
    assert.equal(fileContentHash(out), sim.stateAt(res.txid!).hash);
    rmSync(out);
  } finally {
    await sim.close();
    await backend.stop();
  }
});
