/**
 * `walship compact`: without --force it prints the plan and changes nothing (byte-for-byte the same
 * listing); with --force it does what it printed, and the replica still verifies and restores to the
 * same content.
 */
import assert from "node:assert/strict";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { command as compact } from "../../src/cli/compact.js";
import { command as verify } from "../../src/cli/verify.js";
import { restore } from "../../src/restore/restore.js";
import { fileContentHash } from "../helpers/db.js";
import { buildReplica, runCommand } from "../verify/replica.js";

/** Every file below the replica root with its size and mtime. */
function snapshotTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${p.slice(root.length)} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(root);
  return out;
}

interface PlanJson {
  dryRun: boolean;
  compactions: Array<{ level: number; sourceLevel: number; minTXID: string; inputs: unknown[] }>;
  deletions: Array<{ level: number; reason: string }>;
}

test("compact: dry run by default changes nothing; --force applies the plan", async () => {
  const r = await buildReplica(40);
  try {
    const out0 = join(r.dir, "before.db");
    await restore(r.client, { output: out0 });
    const before = snapshotTree(r.root);

    const text = await runCommand(compact, [r.root]);
    assert.equal(text.code, 0, String(text.error));
    assert.match(text.stdout, /would merge \(3\):/);
    assert.match(text.stdout, /L0 -> L1 {2}0000000000000002-/); // not from TXID 1: no database-sized merge
    assert.match(text.stdout, /would delete \(\d+ files?, \d+ bytes\):/);
    assert.match(text.stdout, /dry run: nothing changed/);
    const json = await runCommand(compact, [r.root, "--json", "--hourly", "1", "--daily", "0"]);
    assert.equal(json.code, 0);
    const plan = JSON.parse(json.stdout) as PlanJson;
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.compactions.map((c) => [c.sourceLevel, c.level]),
      [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
    );
    assert.ok(plan.deletions.length > 30 && plan.deletions.every((d) => d.level === 0));
    assert.deepEqual(snapshotTree(r.root), before, "a dry run must not touch the replica");

    const forced = await runCommand(compact, [r.root, "--force", "--json"]);
    assert.equal(forced.code, 0, String(forced.error));
    const done = JSON.parse(forced.stdout) as { compacted: unknown[]; deleted: unknown[] };
    assert.equal(done.compacted.length, 3);
    assert.equal(done.deleted.length, plan.deletions.length);
    assert.notDeepEqual(snapshotTree(r.root), before);

    const v = await runCommand(verify, [r.root, "--deep"]);
    assert.equal(v.code, 0, v.stdout);
    const out1 = join(r.dir, "after.db");
    const res = await restore(r.client, { output: out1 });
    assert.equal(res.txid, r.txid);
    assert.equal(fileContentHash(out1), fileContentHash(out0));
    assert.ok(res.files.length <= 3, `latest restore reads ${res.files.length} files`);

    // A second forced run finds nothing left to do.
    const again = await runCommand(compact, [r.root, "--force", "--json"]);
    const idle = JSON.parse(again.stdout) as { compacted: unknown[]; deleted: unknown[] };
    assert.deepEqual([idle.compacted.length, idle.deleted.length], [0, 0]);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("compact: bad policy flags are usage errors", async () => {
  const r = await runCommand(compact, ["/nonexistent", "--hourly", "-1"]);
  assert.equal(r.code, 2);
  const w = await runCommand(compact, ["/nonexistent", "--window", "soon"]);
  assert.equal(w.code, 2);
});
