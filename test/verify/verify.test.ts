/**
 * `walship verify` on real replicas: a whole one passes (also --deep); each kind of damage is found on
 * its own, named in the output, and fails with exit 7 and the documented error code.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { command } from "../../src/cli/verify.js";
import { runCompaction } from "../../src/compaction/compact.js";
import { selectCompaction } from "../../src/compaction/select.js";
import { isWalshipError } from "../../src/errors.js";
import { listAll } from "../../src/restore/plan.js";
import { type BuiltReplica, buildReplica, runCommand } from "./replica.js";

interface JsonProblem {
  kind: string;
  code: string;
  cause?: string;
}

async function verifyJson(r: BuiltReplica, extra: string[] = []) {
  const res = await runCommand(command, [r.root, "--json", ...extra]);
  const body = JSON.parse(res.stdout) as { ok: boolean; problems: JsonProblem[]; latestTXID: string };
  return { ...res, body };
}

function errorCode(e: unknown): string | undefined {
  return isWalshipError(e) ? e.code : undefined;
}

test("a whole replica verifies, also with --deep", async () => {
  const r = await buildReplica(12);
  try {
    const res = await verifyJson(r, ["--deep"]);
    assert.equal(res.code, 0, JSON.stringify(res.body.problems));
    assert.equal(res.body.ok, true);
    assert.equal(BigInt(`0x${res.body.latestTXID}`), r.txid);
    const text = await runCommand(command, [r.root]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /\nok\n$/);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("a missing L0 file in the middle of the chain is a gap (replica_gap, exit 7)", async () => {
  const r = await buildReplica(12);
  try {
    const mid = r.txid - 5n;
    rmSync(r.client.filePath(0, mid, mid));
    const res = await verifyJson(r);
    assert.equal(res.code, 7);
    assert.equal(errorCode(res.error), "replica_gap");
    const kinds = res.body.problems.map((p) => p.kind);
    assert.ok(kinds.includes("gap"), kinds.join(","));
    assert.ok(kinds.includes("no_chain"), kinds.join(","));
    assert.ok(res.body.problems.every((p) => p.code === "replica_gap"));
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("a flipped byte is found (ltx_invalid, exit 7)", async () => {
  const r = await buildReplica(12);
  try {
    const path = r.client.filePath(0, r.txid - 3n, r.txid - 3n);
    const b = readFileSync(path);
    b[Math.floor(b.length / 2)]! ^= 0x40;
    writeFileSync(path, b);
    const res = await verifyJson(r);
    assert.equal(res.code, 7);
    assert.equal(errorCode(res.error), "ltx_invalid");
    const damaged = res.body.problems.filter((p) => p.kind === "damaged");
    assert.equal(damaged.length, 1, JSON.stringify(res.body.problems));
    assert.ok(["ltx_checksum", "lz4", "ltx_invalid"].includes(damaged[0]!.cause ?? ""), damaged[0]!.cause);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("a truncated file is found (ltx_invalid, exit 7)", async () => {
  const r = await buildReplica(12);
  try {
    const path = r.client.filePath(0, r.txid - 2n, r.txid - 2n);
    truncateSync(path, Math.floor(readFileSync(path).length * 0.6));
    const res = await verifyJson(r);
    assert.equal(res.code, 7);
    assert.equal(errorCode(res.error), "ltx_invalid");
    const damaged = res.body.problems.filter((p) => p.kind === "damaged");
    assert.equal(damaged.length, 1);
    assert.equal(damaged[0]!.cause, "ltx_truncated");
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("overlapping files within a level are found (replica_gap, exit 7)", async () => {
  const r = await buildReplica(12);
  try {
    // Two L1 files over TXIDs 3..8 and 6..10, compacted from the real L0 files: sound files, bad layout.
    const levels = await listAll(r.client);
    const l0 = levels.get(0)!;
    for (const [lo, hi] of [
      [3n, 8n],
      [6n, 10n],
    ] as const) {
      const only = new Map(levels);
      only.set(
        0,
        l0.filter((f) => f.minTXID >= lo && f.maxTXID <= hi),
      );
      only.set(1, []);
      const job = selectCompaction(only, 1, 0, lo - 1n, 64)!;
      await runCompaction(r.client, job);
    }
    const res = await verifyJson(r);
    assert.equal(res.code, 7);
    assert.equal(errorCode(res.error), "replica_gap");
    assert.deepEqual(
      res.body.problems.map((p) => p.kind),
      ["overlap"],
    );
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("a file from another database (different page size) is found (ltx_invalid, exit 7)", async () => {
  const a = await buildReplica(8);
  const b = await buildReplica(8, { pageSize: 1024, dir: a.dir });
  try {
    assert.equal(a.txid, b.txid);
    const t = a.txid - 1n;
    writeFileSync(a.client.filePath(0, t, t), readFileSync(b.client.filePath(0, t, t)));
    const res = await verifyJson(a);
    assert.equal(res.code, 7);
    assert.equal(errorCode(res.error), "ltx_invalid");
    const kinds = res.body.problems.map((p) => p.kind);
    assert.deepEqual(kinds, ["page_size"]);
  } finally {
    rmSync(a.dir, { recursive: true, force: true });
  }
});
