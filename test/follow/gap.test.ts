/**
 * Compaction removes files a stopped follower still needed. The primary writes under `walship watch`; a
 * follower (`walship replicate`) is stopped twice while the replica is rewritten under it, as a compactor
 * with retention would:
 *   A. the level-0 files after the follower's TXID are merged into one level-1 file that also overlaps
 *      what it has, and deleted: on restart the level-1 file bridges the hole (no bootstrap);
 *   B. everything up to a point is merged into a new level-9 snapshot and every level-0/1 file it covers is
 *      deleted: nothing continues the follower's chain, so it re-bootstraps in place.
 * Readers keep their connections open through both and only ever see states the primary had.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { compactLtx } from "../../src/ltx/compactor.js";
import type { LtxFileInfo, ReplicaClient } from "../../src/replica/client.js";
import { listAll, planRestore } from "../../src/restore/plan.js";
import { type Backend, fileBackend, s3Backend } from "../helpers/backends.js";
import { type CliResult, startCli, waitFor } from "../helpers/cli.js";
import { fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";
import {
  assertReadersClean,
  initPrimary,
  progressTXID,
  replicaMaxTXID,
  startReaders,
  startWriter,
  stopWriter,
  summarizeReaders,
  watchStatus,
} from "./helpers.js";

/** Merges `files` (a contiguous chain) into one file at `level` and deletes the inputs (except level 9). */
async function compactInto(client: ReplicaClient, files: LtxFileInfo[], level: number): Promise<LtxFileInfo> {
  const inputs = await Promise.all(files.map((f) => client.open(f.level, f.minTXID, f.maxTXID)));
  const chunks: Uint8Array[] = [];
  const res = await compactLtx(inputs, async (c) => {
    chunks.push(c);
  });
  const body = Buffer.concat(chunks);
  const min = files[0]!.minTXID;
  const max = files[files.length - 1]!.maxTXID;
  await client.write(level, min, max, body, { timestamp: Number(res.header.timestamp) });
  await client.delete(files.filter((f) => f.level !== 9));
  return { level, minTXID: min, maxTXID: max, size: body.length, createdAt: Date.now() };
}

function follower(b: Backend, url: string, local: string) {
  const p = startCli(
    ["replicate", url, "--local", local, "--interval", "200ms", "--json", "--log-level", "debug"],
    b.env,
  );
  let out: CliResult | null = null;
  void p.done.then((r) => (out = r));
  return {
    ...p,
    async stop(): Promise<CliResult> {
      p.child.kill("SIGTERM");
      const r = await p.done;
      assert.equal(r.code, 0, r.stderr);
      return r;
    },
    exited: () => out,
  };
}

async function waitFollower(local: string, atLeast: bigint, what: string): Promise<void> {
  await waitFor(() => (progressTXID(local) ?? 0n) >= atLeast, 60_000, what);
}

async function waitL0(client: ReplicaClient, beyond: bigint): Promise<bigint> {
  let max = 0n;
  await waitFor(
    async () => {
      const l0 = await client.list(0);
      max = l0.length ? l0[l0.length - 1]!.maxTXID : 0n;
      return max >= beyond;
    },
    30_000,
    `the primary to reach TXID ${beyond}`,
  );
  return max;
}

for (const make of [
  async (dir: string): Promise<Backend | { skip: string }> => fileBackend(dir),
  async (): Promise<Backend | { skip: string }> => s3Backend(),
]) {
  const dir = tempDir("walship-follow-gap-");
  const backendP = make(dir);
  describe("follow across compaction", async () => {
    const b = await backendP;
    const name = "skip" in b ? "s3" : b.name;
    after(async () => {
      if (!("skip" in b)) await b.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test(`${name}: a level-1 file bridges deleted level-0 files; a new snapshot forces a re-bootstrap`, async (t) => {
      if ("skip" in b) return t.skip(b.skip);
      const sub = join(dir, "gap");
      mkdirSync(sub, { recursive: true });
      const db = join(sub, "primary.db");
      const local = join(sub, "follower.db");
      const url = b.url("gap");
      const client = b.client("gap");
      t.after(() => client.close());
      await initPrimary(db);
      const watch = startCli(["watch", db, url, "--sync-interval", "200ms"], b.env);
      await waitFor(() => watchStatus(db) !== null, 20_000, "walship watch to start");
      const writer = startWriter(db, 30);
      let readers: ReturnType<typeof startReaders> | null = null;
      const logs: string[] = [];
      try {
        let f = follower(b, url, local);
        await waitFollower(local, 5n, "the first follower run");
        readers = startReaders(local, 2);

        // A: level 1 bridges.
        logs.push((await f.stop()).stderr);
        const t1 = progressTXID(local)!;
        const m1 = await waitL0(client, t1 + 8n);
        const l0 = (await client.list(0)).filter((x) => x.minTXID >= t1 - 2n && x.maxTXID <= m1);
        await compactInto(client, l0, 1);
        assert.ok(
          !(await client.list(0)).some((x) => x.minTXID === t1 + 1n),
          "the file right after the follower is gone",
        );
        f = follower(b, url, local);
        await waitFollower(local, m1 + 1n, "the follower to bridge through level 1");
        logs.push((await f.stop()).stderr);
        assert.doesNotMatch(logs[1]!, /bootstrapped/, "bridged without bootstrapping");
        assert.match(logs[1]!, /applied/);

        // B: a new snapshot replaces everything the follower could continue from.
        const t2 = progressTXID(local)!;
        await waitL0(client, t2 + 8n);
        const plan = planRestore(await listAll(client), {});
        const snap = await compactInto(client, plan.files, 9);
        const l1 = await client.list(1);
        await client.delete(l1.filter((x) => x.maxTXID <= snap.maxTXID));
        f = follower(b, url, local);
        await waitFollower(local, snap.maxTXID + 1n, "the follower to re-bootstrap and continue");
        logs.push((await f.stop()).stderr);
        assert.match(logs[2]!, /bootstrapped .*reason=gap/);

        // Converge to the primary's final state.
        await stopWriter(writer);
        watch.child.kill("SIGTERM");
        assert.equal((await watch.done).code, 0);
        const final = await replicaMaxTXID(b, "gap");
        f = follower(b, url, local);
        await waitFollower(local, final, "the follower to converge");
        await f.stop();
      } finally {
        if (writer.child.exitCode === null) await stopWriter(writer);
        if (watch.child.exitCode === null) watch.child.kill("SIGTERM");
        await watch.done;
      }
      const rs = await readers!.stop();
      assertReadersClean(rs);
      assert.equal(integrityCheck(local), "ok");
      assert.equal(fileContentHash(local), fileContentHash(db), "converged to the primary");
      console.log(`# ${name}: gap test; ${summarizeReaders(rs)}`);
    });
  });
}
