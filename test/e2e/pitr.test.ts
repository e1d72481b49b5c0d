/**
 * Point-in-time restore: the test writes from its own process and asks walship to capture after each
 * batch, so the source content at every TXID is known exactly; restores at random TXIDs (and at a
 * timestamp between two of them) must reproduce exactly those contents.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { restore } from "../../src/restore/restore.js";
import { s3Backend } from "../helpers/backends.js";
import { contentHash, createWalDb, fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";
import { makeRandom } from "../helpers/random.js";

async function pointInTime(client: ReplicaClient, dir: string): Promise<void> {
  const seed = Number(process.env.WALSHIP_SEED ?? Date.now() % 1_000_000);
  const rnd = makeRandom(seed);
  const dbPath = join(dir, "app.db");
  const db = createWalDb(dbPath);
  let now = 1_700_000_000_000;
  const clock = { now: () => now, sleep: async () => {} };
  const rep = new Replicator({
    db: dbPath,
    replica: client,
    clock,
    syncIntervalMs: 3_600_000,
    snapshotIntervalMs: 0,
  });
  await rep.start();
  const states = new Map<bigint, { hash: string; at: number }>();
  const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(?), ?)");
  try {
    for (let batch = 0; batch < 60; batch++) {
      // Time moves before the writes, so whichever capture takes this batch stamps it with this time.
      now += 1000;
      const n = 1 + Math.floor(rnd() * 20);
      db.transaction(() => {
        for (let i = 0; i < n; i++) ins.run(200 + Math.floor(rnd() * 3000), batch);
      })();
      if (rnd() < 0.2) db.prepare("DELETE FROM rows WHERE id % 7 = ?").run(batch % 7);
      if (rnd() < 0.1) db.exec("VACUUM");
      if (rnd() < 0.1) await rep.checkpoint("PASSIVE");
      // A -wal change may already have triggered the capture; either way the state is at rep.txid.
      await rep.captureNow();
      assert.ok(!states.has(rep.txid), `batch ${batch} produced a new TXID`);
      states.set(rep.txid, { hash: contentHash(db), at: now });
    }
    await rep.sync();
  } finally {
    assert.equal(await rep.close({ deadlineMs: 5000 }), true);
  }
  const txids = [...states.keys()];
  const picks = new Set<bigint>();
  while (picks.size < 20) picks.add(txids[Math.floor(rnd() * txids.length)]!);
  picks.add(txids[txids.length - 1]!);
  for (const txid of picks) {
    const out = join(dir, `restored-${txid}.db`);
    const res = await restore(client, { output: out, txid });
    assert.equal(res.txid, txid, `seed ${seed}`);
    assert.equal(integrityCheck(out), "ok");
    assert.equal(fileContentHash(out), states.get(txid)!.hash, `content at TXID ${txid} (seed ${seed})`);
    rmSync(out);
  }
  // A timestamp strictly between two captures restores the earlier one.
  const i = 5 + Math.floor(rnd() * (txids.length - 6));
  const t = txids[i]!;
  const out = join(dir, "restored-ts.db");
  const res = await restore(client, { output: out, timestamp: states.get(t)!.at + 500 });
  assert.equal(res.txid, t, `seed ${seed}`);
  assert.equal(fileContentHash(out), states.get(t)!.hash);
  db.close();
}

test("file: restore at 20 random TXIDs and at a timestamp reproduces the source at that TXID", async () => {
  const dir = tempDir();
  try {
    await pointInTime(new FileReplicaClient(join(dir, "replica")), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("s3: restore at 20 random TXIDs and at a timestamp reproduces the source at that TXID", async (t) => {
  const b = await s3Backend();
  if ("skip" in b) return t.skip(b.skip);
  const dir = tempDir();
  const client = b.client("pitr");
  try {
    await pointInTime(client, dir);
  } finally {
    await client.close();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
