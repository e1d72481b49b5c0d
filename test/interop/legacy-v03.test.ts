/**
 * Legacy restore: backups made by the real Litestream v0.3.13 binary (generations/<id>/snapshots and
 * wal/<index>_<offset> LZ4 files), restored by `walship restore`:
 * - latest: equal to the source page for page, integrity_check ok, and byte-identical to what
 *   `litestream-v0.3.13 restore` and `litestream restore` (v0.5.17, its v0.3 fallback) produce;
 * - by --generation and --index: byte-identical to `litestream-v0.3.13 restore -generation -index`, for
 *   every WAL index of every generation (two generations: the app checkpoints while v0.3 is stopped), and
 *   at a --timestamp between two WAL segments;
 * - migration: walship then watches the same database into the same replica path; latest restores come
 *   from the new LTX files (both tools) while --generation still restores the v0.3 history.
 * File backend fully; S3 (versitygw) for latest and by index.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ReplicaClient } from "../../src/replica/client.js";
import { listGenerations } from "../../src/restore/legacy/layout.js";
import { rawReplicaFor } from "../../src/restore/legacy/raw.js";
import type { Backend } from "../helpers/backends.js";
import { runCli, waitFor } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";
import {
  findPeers,
  type Peers,
  type ReplicaTarget,
  replicaTarget,
  runPeer,
  startPeer,
  writeConfig,
} from "../helpers/litestream.js";
import {
  App,
  assertIntegrity,
  assertSameImage,
  checkBothReaders,
  openBackends,
  restoreWith,
  runSteps,
  startTool,
} from "./harness.js";

const peers = findPeers();
const dir = tempDir("walship-interop-v3-");
let bk: Awaited<ReturnType<typeof openBackends>>;

/** A v0.3 config: 100 ms syncs, a checkpoint (new WAL index) every 20 pages, a snapshot every 2 s. */
function v3Config(db: string, target: ReplicaTarget): string {
  const replica = { ...target.yaml, "sync-interval": "100ms", "snapshot-interval": "2s" };
  return writeConfig({
    dbs: [
      {
        path: db,
        "monitor-interval": "100ms",
        "checkpoint-interval": "1s",
        "min-checkpoint-page-count": 20,
        replicas: [replica],
      },
    ],
  });
}

async function segmentCount(client: ReplicaClient): Promise<number> {
  const gens = await listGenerations(rawReplicaFor(client)!);
  return gens.reduce((n, g) => n + g.segments.length, 0);
}

/** Runs v0.3.13 on the database for `steps` batches, waiting for a new WAL segment after each. */
async function runV3(
  p: Peers,
  app: App,
  target: ReplicaTarget,
  config: string,
  steps: number,
  label: string,
) {
  const client = target.client();
  const ls = startPeer(p.litestreamV3, ["replicate", "-config", config], target.env);
  try {
    await waitFor(async () => (await segmentCount(client)) > 0, 20_000, `${label}: v0.3.13 first segment`);
    for (let i = 0; i < steps; i++) {
      const before = await segmentCount(client);
      app.insert(10, 3000);
      if (i % 3 === 1) app.update(4, 900);
      await waitFor(
        async () => (await segmentCount(client)) > before,
        20_000,
        `${label}: v0.3.13 step ${i + 1}`,
      );
    }
  } catch (e) {
    await ls.stop(2000);
    throw new Error(`${(e as Error).message}\nlitestream v0.3.13 log:\n${ls.log()}`);
  } finally {
    await client.close();
  }
  const r = await ls.stop();
  assert.equal(r.code, 0, `${label}: litestream v0.3.13 exited with ${r.code}:\n${ls.log()}`);
}

/** `litestream-v0.3.13 restore` through the config (works for file and S3 alike). */
async function v3Restore(
  p: Peers,
  config: string,
  db: string,
  out: string,
  env: NodeJS.ProcessEnv,
  label: string,
  sel: { generation?: string; index?: number } = {},
): Promise<void> {
  rmSync(out, { force: true });
  const args = ["restore", "-config", config, "-o", out];
  if (sel.generation) args.push("-generation", sel.generation);
  if (sel.index !== undefined) args.push("-index", sel.index.toString(16).padStart(8, "0"));
  const r = await runPeer(p.litestreamV3, [...args, db], env);
  assert.equal(r.code, 0, `${label}: litestream v0.3.13 restore failed: ${r.stderr}`);
}

async function walshipRestoreV3(
  target: ReplicaTarget,
  out: string,
  label: string,
  sel: { generation?: string; index?: number } = {},
): Promise<void> {
  rmSync(out, { force: true });
  const args = ["restore", target.walshipUrl, "-o", out, "--integrity-check", "full"];
  if (sel.generation) args.push("--generation", sel.generation);
  if (sel.index !== undefined) args.push("--index", sel.index.toString(16).padStart(8, "0"));
  const r = await runCli(args, target.env);
  assert.equal(r.code, 0, `${label}: walship restore failed (${r.code}): ${r.stderr}`);
}

/** Every (generation, WAL index) point, thinned to at most `perGen` per generation. */
async function points(client: ReplicaClient, perGen: number) {
  const gens = await listGenerations(rawReplicaFor(client)!);
  const out: Array<{ generation: string; index: number }> = [];
  for (const g of gens) {
    const idx = [...new Set(g.segments.map((s) => s.index))].filter((i) => i >= (g.snapshots[0]?.index ?? 0));
    const pick =
      idx.length <= perGen
        ? idx
        : Array.from({ length: perGen }, (_, k) => idx[Math.round((k * (idx.length - 1)) / (perGen - 1))]!);
    for (const index of new Set(pick)) out.push({ generation: g.id, index });
  }
  return { gens, points: out };
}

async function legacyCase(
  p: Peers,
  b: Backend,
  full: boolean,
  t: { diagnostic(m: string): void },
): Promise<void> {
  const label = `litestream v0.3.13 wrote, ${b.name}`;
  const target = replicaTarget(b, "v3");
  const caseDir = join(dir, `v3-${b.name}`);
  mkdirSync(caseDir, { recursive: true });
  const app = new App(join(caseDir, "app.db"), 4096);
  const config = v3Config(app.path, target);
  const client = target.client();
  try {
    app.insert(10, 100);
    await runV3(p, app, target, config, 8, `${label} (first run)`);
    if (full) {
      // While v0.3 is stopped the app checkpoints and restarts the WAL: v0.3 must start a new generation.
      app.insert(30, 2000);
      app.checkpointTruncate();
      app.insert(10, 500);
      await runV3(p, app, target, config, 4, `${label} (second run)`);
    }
    const { gens, points: pts } = await points(client, full ? 4 : 3);
    if (full) assert.ok(gens.length >= 2, `${label}: expected two v0.3 generations, got ${gens.length}`);
    app.settle();

    // Latest: the source, and what v0.3.13 itself restores.
    const w = join(caseDir, "latest-walship.db");
    const v = join(caseDir, "latest-v3.db");
    await walshipRestoreV3(target, w, `${label} -> walship restore (latest)`);
    assertSameImage(`${label} -> walship restore (latest) vs source`, app.path, w);
    assertIntegrity(`${label} -> walship restore (latest)`, w);
    await v3Restore(p, config, app.path, v, target.env, `${label} -> v0.3.13 restore (latest)`);
    assertSameImage(`${label}: walship and v0.3.13 restores (latest)`, v, w);
    // Litestream v0.5.17 reads v0.3 backups too (its RestoreV3): all three agree.
    const l5 = join(caseDir, "latest-v5.db");
    await restoreWith("litestream", p, target, l5, `${label} -> litestream v0.5.17 restore (latest)`);
    assertSameImage(`${label}: walship and litestream v0.5.17 restores (latest)`, l5, w);

    // Every generation, by WAL index.
    for (const pt of pts) {
      const at = `generation ${pt.generation} index ${pt.index.toString(16).padStart(8, "0")}`;
      await walshipRestoreV3(target, w, `${label} -> walship restore (${at})`, pt);
      await v3Restore(p, config, app.path, v, target.env, `${label} -> v0.3.13 restore (${at})`, pt);
      assertSameImage(`${label}: walship and v0.3.13 restores at ${at}`, v, w);
      assertIntegrity(`${label} -> walship restore (${at})`, w);
    }
    // A point in time between two WAL segments of the newest generation (object mtimes / LastModified).
    const newest = gens.reduce((a, g) => (g.updatedAt > a.updatedAt ? g : a));
    const times = newest.segments.map((x) => x.obj.createdAt).sort((a, c) => a - c);
    let mid = -1;
    for (let i = Math.floor(times.length / 2); i < times.length - 1 && mid < 0; i++) {
      if (times[i + 1]! - times[i]! >= 4) mid = i;
    }
    if (b.name === "file") {
      assert.ok(mid >= 0, `${label}: no two WAL segments far enough apart in time for a --timestamp check`);
      const ts = new Date(Math.floor((times[mid]! + times[mid + 1]!) / 2)).toISOString();
      const at = `timestamp ${ts}`;
      rmSync(w, { force: true });
      const r = await runCli(["restore", target.walshipUrl, "-o", w, "--timestamp", ts], target.env);
      assert.equal(r.code, 0, `${label} -> walship restore (${at}): ${r.stderr}`);
      rmSync(v, { force: true });
      const r3 = await runPeer(
        p.litestreamV3,
        ["restore", "-config", config, "-o", v, "-timestamp", ts, app.path],
        target.env,
      );
      assert.equal(r3.code, 0, `${label} -> v0.3.13 restore (${at}): ${r3.stderr}`);
      assertSameImage(`${label}: walship and v0.3.13 restores at ${at}`, v, w);
      assertIntegrity(`${label} -> walship restore (${at})`, w);
      t.diagnostic(`checked ${at}`);
    }
    if (full) {
      // A whole older generation (no --index): its newest state.
      const old = gens[0]!.id === pts.at(-1)!.generation ? gens[1]! : gens[0]!;
      await walshipRestoreV3(target, w, `${label} -> walship restore (generation ${old.id})`, {
        generation: old.id,
      });
      await v3Restore(
        p,
        config,
        app.path,
        v,
        target.env,
        `${label} -> v0.3.13 restore (generation ${old.id})`,
        {
          generation: old.id,
        },
      );
      assertSameImage(`${label}: walship and v0.3.13 restores of generation ${old.id}`, v, w);

      // Migration: walship takes over the same replica path; v0.3 history stays restorable.
      const mlabel = `${label}, then walship watch on the same replica path`;
      const tool = await startTool("walship", p, app.path, target, { label: mlabel });
      try {
        await runSteps(app, [(a) => a.insert(50, 1000), (a) => a.update(3, 600)], target, mlabel);
      } finally {
        await tool.stop();
      }
      await checkBothReaders(p, target, app, caseDir, mlabel);
      const first = pts[0]!;
      await walshipRestoreV3(
        target,
        w,
        `${mlabel} -> walship restore --generation ${first.generation}`,
        first,
      );
      await v3Restore(p, config, app.path, v, target.env, `${mlabel} -> v0.3.13 restore`, first);
      assertSameImage(`${mlabel}: v0.3 history at generation ${first.generation} index ${first.index}`, v, w);
      // --txid means LTX, even with v0.3 data beside it.
      await restoreWith("walship", p, target, w, `${mlabel} -> walship restore --txid 1`, { txid: 1n });
    }
  } finally {
    await client.close();
    app.close();
  }
}

describe("interop: Litestream v0.3.13 backups restore with walship", () => {
  before(async () => {
    bk = await openBackends(dir);
  });
  after(async () => {
    await bk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("v0.3.13 -> walship, file: latest, by generation and index, two generations, then migration", async (t) => {
    if ("skip" in peers) return t.skip(peers.skip);
    await legacyCase(peers, bk.file, true, t);
  });
  test("v0.3.13 -> walship, s3: latest and by index", async (t) => {
    if ("skip" in peers) return t.skip(peers.skip);
    if ("skip" in bk.s3) return t.skip(bk.s3.skip);
    await legacyCase(peers, bk.s3, false, t);
  });
});
