/**
 * Litestream itself (v0.5, the peer binary from `npm run setup:peers`) restores a replica that walship
 * compacted and thinned: latest and at retained TXIDs, to exactly the recorded content. This pins the
 * layout (file backend: ltx/<level>/<min>-<max>.ltx) and the compacted files' format to what Litestream
 * reads, including compacted levels that start above TXID 1 (the #1510 change).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { formatTXID } from "../../src/ltx/filename.js";
import { SNAPSHOT_LEVEL } from "../../src/replica/client.js";
import { listAll, planRestore } from "../../src/restore/plan.js";
import { repoRoot } from "../helpers/cli.js";
import { fileContentHash } from "../helpers/db.js";
import { Sim } from "./sim.js";

const LITESTREAM = join(repoRoot, ".peers", "bin", "litestream");

test("Litestream restores a replica walship compacted and thinned", async (t) => {
  if (!existsSync(LITESTREAM)) {
    if (process.env.CI === "true") throw new Error(`${LITESTREAM} missing (CI must not skip)`);
    t.skip("litestream not installed: run npm run setup:peers");
    return;
  }
  const sim = new Sim({
    seed: 42,
    maintainer: { pitrWindowMs: 30 * 60_000, gfs: { hourly: 2, daily: 0, weekly: 0, monthly: 0 } },
  });
  try {
    await sim.start();
    let lastSnapshot = sim.now;
    const end = sim.now + 2 * 3_600_000;
    while (sim.now < end) {
      sim.now += 10_000 + Math.floor(sim.rnd() * 20_000);
      await sim.writeBatch();
      await sim.rep.sync();
      if (sim.now - lastSnapshot >= 20 * 60_000) {
        await sim.rep.snapshot();
        lastSnapshot = sim.now;
      }
      await sim.run();
    }
    const levels = await listAll(sim.client);
    assert.ok((levels.get(1) ?? []).length > 0 && (levels.get(3) ?? []).length > 0);
    const root = join(sim.dir, "replica");
    const targets: Array<bigint | null> = [null];
    for (const f of [...(levels.get(2) ?? []), ...(levels.get(SNAPSHOT_LEVEL) ?? [])].slice(-4))
      targets.push(f.maxTXID);
    for (const txid of targets) {
      if (txid !== null) assert.equal(planRestore(levels, { txid }).txid, txid);
      const out = join(sim.dir, `ls-${txid ?? "latest"}.db`);
      const args = [
        "restore",
        "-o",
        out,
        ...(txid === null ? [] : ["-txid", formatTXID(txid)]),
        `file://${root}`,
      ];
      const r = spawnSync(LITESTREAM, args, { encoding: "utf8" });
      assert.equal(r.status, 0, `litestream ${args.join(" ")}: ${r.stderr}`);
      const want = txid ?? sim.rep.txid;
      assert.equal(fileContentHash(out), sim.stateAt(want).hash, `Litestream restore at ${txid ?? "latest"}`);
      rmSync(out);
    }
  } finally {
    await sim.close();
  }
});
