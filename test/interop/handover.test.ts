/**
 * Hand-over: one tool replicates a database for a while and stops; the app keeps writing while nothing
 * replicates; the other tool then watches the same database and replica path and continues the same TXID
 * chain (next TXID = the replica's max + 1, no gap, no reuse). Both tools must then restore the result:
 * latest equal to the source page for page, and the same file at the hand-over TXIDs. Both directions, on
 * the file and S3 backends.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Backend } from "../helpers/backends.js";
import { tempDir } from "../helpers/db.js";
import { findPeers, type Peers, replicaMaxTXID, replicaTarget } from "../helpers/litestream.js";
import { App, checkBothReaders, openBackends, runSteps, startTool, type Tool } from "./harness.js";

const peers = findPeers();
const dir = tempDir("walship-interop-h-");
let bk: Awaited<ReturnType<typeof openBackends>>;

async function handOver(first: Tool, second: Tool, p: Peers, b: Backend): Promise<void> {
  const label = `hand-over ${first} -> ${second}, ${b.name}`;
  const target = replicaTarget(b, `handover-${first}-${second}`);
  const caseDir = join(dir, `handover-${first}-${second}-${b.name}`);
  mkdirSync(caseDir, { recursive: true });
  const app = new App(join(caseDir, "app.db"), 4096);
  const client = target.client();
  try {
    app.insert(10, 100);
    const t1 = await startTool(first, p, app.path, target, { label: `${label} (${first} phase)` });
    try {
      await runSteps(
        app,
        [(a) => a.insert(200, 1000), (a) => a.update(4, 1200), (a) => a.insert(100, 3000)],
        target,
        `${label} (${first} phase)`,
      );
    } finally {
      await t1.stop();
    }
    const handoff = await replicaMaxTXID(client);
    // Writes while nothing replicates: the second tool must pick them up.
    app.insert(50, 2000);
    app.update(7, 800);

    const t2 = await startTool(second, p, app.path, target, { label: `${label} (${second} phase)` });
    try {
      await runSteps(
        app,
        [(a) => a.insert(150, 1500), (a) => a.deleteAllBut(3), (a) => a.insert(40, 5000)],
        target,
        `${label} (${second} phase)`,
      );
    } finally {
      await t2.stop();
    }

    const l0 = await client.list(0);
    assert.ok(l0.length > 0, `${label}: level 0 is empty`);
    assert.equal(l0[0]!.minTXID, 1n, `${label}: the chain starts at TXID 1`);
    for (let i = 1; i < l0.length; i++) {
      assert.equal(
        l0[i]!.minTXID,
        l0[i - 1]!.maxTXID + 1n,
        `${label}: level-0 chain has a gap or a reused TXID after ${l0[i - 1]!.maxTXID.toString(16)}`,
      );
    }
    const last = l0[l0.length - 1]!.maxTXID;
    assert.ok(last > handoff, `${label}: ${second} wrote nothing after the hand-over at TXID ${handoff}`);
    assert.ok(
      l0.some((f) => f.minTXID === handoff + 1n),
      `${label}: ${second} did not continue at TXID ${handoff + 1n}`,
    );
    await checkBothReaders(p, target, app, caseDir, label, { txids: [handoff, handoff + 1n, last] });
  } finally {
    await client.close();
    app.close();
  }
}

describe("interop: hand-over between litestream and walship on one replica", () => {
  before(async () => {
    bk = await openBackends(dir);
  });
  after(async () => {
    await bk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const backend of ["file", "s3"] as const) {
    for (const [first, second] of [
      ["litestream", "walship"],
      ["walship", "litestream"],
    ] as const) {
      test(`${first} then ${second}, ${backend}: one TXID chain, both tools restore it`, async (t) => {
        if ("skip" in peers) return t.skip(peers.skip);
        const b = bk[backend];
        if ("skip" in b) return t.skip(b.skip);
        await handOver(first, second, peers, b);
      });
    }
  }
});
