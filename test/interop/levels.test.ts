/**
 * Compacted levels and snapshots across tools:
 * - Litestream v0.5.17 with quick compaction (L1/L2/L3 every 1-3 s), snapshots every 3 s and a 1 s L0
 *   retention, so most of level 0 is gone and a restore must plan across L9, L3..L1 and L0. walship
 *   restores latest and every file boundary (--txid), and must produce the same file as Litestream.
 * - walship's L9 snapshots (taken every second): with the level-0 files they cover deleted (as retention
 *   would), Litestream restores latest and each snapshot's TXID, equal to walship's restores.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Backend } from "../helpers/backends.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";
import { findPeers, litestreamLtx, type Peers, replicaTarget } from "../helpers/litestream.js";
import { App, checkBothReaders, openBackends, runSteps, startTool } from "./harness.js";

const peers = findPeers();
const dir = tempDir("walship-interop-c-");
let bk: Awaited<ReturnType<typeof openBackends>>;

const QUICK_LEVELS = {
  levels: [{ interval: "1s" }, { interval: "2s" }, { interval: "3s" }],
  snapshot: { interval: "3s", retention: "1h" },
  "l0-retention": "1s",
  "l0-retention-check-interval": "1s",
};

function steps(n: number) {
  return Array.from({ length: n }, (_, i) => (a: App) => {
    a.insert(40, 1000 + i * 100);
    if (i % 3 === 2) a.update(5, 700);
    if (i === 7) {
      a.deleteAllBut(2);
    }
  });
}

async function litestreamCompacts(p: Peers, b: Backend): Promise<void> {
  const label = `litestream wrote L1-L3 and L9, ${b.name}`;
  const target = replicaTarget(b, "ls-levels");
  const caseDir = join(dir, `ls-levels-${b.name}`);
  mkdirSync(caseDir, { recursive: true });
  const app = new App(join(caseDir, "app.db"), 4096);
  try {
    app.insert(10, 100);
    const tool = await startTool("litestream", p, app.path, target, { top: QUICK_LEVELS, label });
    try {
      // ~0.5 s per step plus the waits: long enough for several L1-L3 compactions and snapshots.
      for (const s of steps(14)) {
        await runSteps(app, [s], target, label);
        await new Promise((r) => setTimeout(r, 350));
      }
    } finally {
      await tool.stop();
    }
    const files = await litestreamLtx(p, target);
    const levels = new Set(files.map((f) => f.level));
    for (const l of [1, 2, 3, 9]) assert.ok(levels.has(l), `${label}: Litestream wrote no level-${l} file`);
    const l0 = files.filter((f) => f.level === 0);
    let max = 0n;
    for (const f of files) if (f.maxTXID > max) max = f.maxTXID;
    assert.ok(l0.length < Number(max), `${label}: L0 retention removed nothing (${l0.length} L0 files)`);

    // The latest plan must use compacted or snapshot files, not a level-0 chain.
    const plan = await runCli(
      ["restore", target.walshipUrl, "-o", join(caseDir, "plan.db"), "--dry-run", "--json"],
      target.env,
    );
    assert.equal(plan.code, 0, `${label}: walship restore --dry-run: ${plan.stderr}`);
    const planned = JSON.parse(plan.stdout) as { files: Array<{ level: number }> };
    assert.ok(
      planned.files.some((f) => f.level > 0),
      `${label}: walship planned only level-0 files`,
    );

    // Every file boundary is a restorable point for both tools.
    const points = [...new Set(files.map((f) => f.maxTXID))].sort((a, c) => (a < c ? -1 : 1));
    await checkBothReaders(p, target, app, caseDir, label, { txids: points });
  } finally {
    app.close();
  }
}

async function walshipSnapshots(p: Peers, b: Backend): Promise<void> {
  const label = `walship wrote L9 snapshots, ${b.name}`;
  const target = replicaTarget(b, "walship-l9");
  const caseDir = join(dir, `walship-l9-${b.name}`);
  mkdirSync(caseDir, { recursive: true });
  const app = new App(join(caseDir, "app.db"), 4096);
  const client = target.client();
  try {
    app.insert(10, 100);
    const tool = await startTool("walship", p, app.path, target, {
      watchArgs: ["--snapshot-interval", "1s"],
      label,
    });
    try {
      for (const s of steps(8)) {
        await runSteps(app, [s], target, label);
        await new Promise((r) => setTimeout(r, 400));
      }
    } finally {
      await tool.stop();
    }
    const snaps = await client.list(9);
    assert.ok(snaps.length >= 2, `${label}: walship wrote ${snaps.length} snapshots, expected several`);
    const newest = snaps[snaps.length - 1]!.maxTXID;
    // Retention: drop the level-0 files the newest snapshot covers, so restores must go through L9.
    const covered = (await client.list(0)).filter((f) => f.maxTXID <= newest);
    await client.delete(covered);
    const seen = await litestreamLtx(p, target);
    assert.ok(
      seen.some((f) => f.level === 9 && f.maxTXID === newest),
      `${label}: litestream ltx does not list walship's snapshot 1-${newest.toString(16)}`,
    );
    await checkBothReaders(p, target, app, caseDir, label, { txids: snaps.map((s) => s.maxTXID) });
  } finally {
    await client.close();
    app.close();
  }
}

describe("interop: compacted levels and snapshots", () => {
  before(async () => {
    bk = await openBackends(dir);
  });
  after(async () => {
    await bk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const backend of ["file", "s3"] as const) {
    test(`litestream L1-L3 + L9 -> walship restore, ${backend}: latest and every file boundary`, async (t) => {
      if ("skip" in peers) return t.skip(peers.skip);
      const b = bk[backend];
      if ("skip" in b) return t.skip(b.skip);
      await litestreamCompacts(peers, b);
    });
    test(`walship L9 snapshots -> litestream restore, ${backend}: latest and each snapshot`, async (t) => {
      if ("skip" in peers) return t.skip(peers.skip);
      const b = bk[backend];
      if ("skip" in b) return t.skip(b.skip);
      await walshipSnapshots(peers, b);
    });
  }
});
