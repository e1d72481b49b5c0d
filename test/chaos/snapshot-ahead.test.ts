/**
 * Regression found by the chaos harness (seed 2): walship uploads a level-9 snapshot at TXID S while the
 * level-0 files before S are still staged, and dies. The restarted walship saw the replica "at S" (the
 * snapshot), skipped and deleted the staged level-0 files, and answered sync() for TXIDs below S at once:
 * acknowledged TXIDs that no restore could reach (`restore --txid` said "not available"; the data itself
 * survived inside the snapshot). The level-0 chain must be completed after a restart.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { WalshipError } from "../../src/errors.js";
import type { ReplicaClient, WriteBody, WriteOptions } from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { restore } from "../../src/restore/restore.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { checkState, commitTxn, SCHEMA } from "./model.js";

const dir = tempDir("walship-snap-ahead-");
after(() => rmSync(dir, { recursive: true, force: true }));

/** A replica whose level-0 uploads fail while `blocked` (snapshots still go through). */
class L0Blocked extends FileReplicaClient {
  blocked = false;
  override async write(
    level: number,
    min: bigint,
    max: bigint,
    data: WriteBody,
    o: WriteOptions,
  ): Promise<void> {
    if (this.blocked && level === 0) {
      throw new WalshipError("storage_connection", "level 0 blocked by the test", { retryable: true });
    }
    return super.write(level, min, max, data, o);
  }
}

test("TXIDs acknowledged behind a snapshot stay restorable after a restart", async () => {
  const db = join(dir, "app.db");
  const app = createWalDb(db);
  app.exec(SCHEMA);
  const opts = { db, syncIntervalMs: 3_600_000, checkpointIntervalMs: 0, snapshotIntervalMs: 0 };
  const client = new L0Blocked(join(dir, "replica"));
  const a = new Replicator({ ...opts, replica: client });
  await a.start();
  await a.sync();
  client.blocked = true;
  for (let n = 1; n <= 3; n++) {
    commitTxn(app, n);
    await a.captureNow();
  }
  const staged = a.txid;
  const snap = await a.snapshot();
  assert.equal(snap.txid, staged);
  // walship dies here: the snapshot is on the replica, the level-0 files before it are only staged.
  assert.equal(await a.close({ deadlineMs: 200 }), false);
  client.blocked = false;

  const b = new Replicator({ ...opts, replica: new FileReplicaClient(join(dir, "replica")) });
  await b.start();
  commitTxn(app, 4);
  const acked = await b.sync();
  assert.ok(await b.close());
  app.close();

  const replica: ReplicaClient = new FileReplicaClient(join(dir, "replica"));
  for (let t = 2n; t <= acked; t++) {
    const out = join(dir, `at-${t}.db`);
    await restore(replica, { output: out, txid: t });
    checkState(out);
  }
});
