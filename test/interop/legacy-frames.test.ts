/**
 * The legacy per-page LZ4 *frame* encoding (page flag 0) that Litestream v0.5.0-v0.5.15 wrote, read by
 * `walship restore` from a file replica:
 * - the Go-written vectors (superfly/ltx v0.5.1) in test/fixtures/ltx/generated/v3legacy-frame-*.ltx,
 *   alone and on top of a block-encoded base, checked against the manifest's page hashes and against
 *   `litestream restore` (v0.5.17 reads both encodings);
 * - a whole replica written by the real Litestream, re-encoded file by file into legacy frames (walship's
 *   legacyFrames writer): both tools restore it equal to the source, latest and at sampled TXIDs.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import { formatLtxFilename } from "../../src/ltx/filename.js";
import { fileBackend } from "../helpers/backends.js";
import { repoRoot } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";
import { findPeers, replicaTarget } from "../helpers/litestream.js";
import {
  App,
  assertSameImage,
  checkBothReaders,
  restoreWith,
  runSteps,
  SHAPES,
  sampleTXIDs,
  startTool,
} from "./harness.js";

const peers = findPeers();
const dir = tempDir("walship-interop-f-");
const FIXTURES = join(repoRoot, "test", "fixtures", "ltx", "generated");

interface ManifestEntry {
  file: string;
  pages: Array<{ pgno: number; dataSha256: string; encoding: string }>;
}
const manifest = JSON.parse(readFileSync(join(FIXTURES, "manifest.json"), "utf8")) as ManifestEntry[];

function place(root: string, level: number, min: bigint, max: bigint, src: string): void {
  const d = join(root, "ltx", String(level));
  mkdirSync(d, { recursive: true });
  copyFileSync(src, join(d, formatLtxFilename(min, max)));
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe("interop: legacy per-page LZ4 frame encoding (Litestream v0.5.0-v0.5.15)", () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("legacy-frame snapshot vector restores like its block-encoded twin", async (t) => {
    if ("skip" in peers) return t.skip(peers.skip);
    const label = "legacy-frame vector v3legacy-frame-snapshot-ps1024-2pages.ltx -> walship restore";
    const b = fileBackend(join(dir, "vec1"));
    place(
      join(dir, "vec1", "legacy"),
      0,
      1n,
      1n,
      join(FIXTURES, "v3legacy-frame-snapshot-ps1024-2pages.ltx"),
    );
    place(join(dir, "vec1", "block"), 0, 1n, 1n, join(FIXTURES, "v3-snapshot-ps1024-2pages.ltx"));
    const legacy = join(dir, "vec1-legacy.db");
    const block = join(dir, "vec1-block.db");
    await restoreWith("walship", peers, replicaTarget(b, "legacy"), legacy, label);
    await restoreWith("walship", peers, replicaTarget(b, "block"), block, `${label} (block twin)`);
    const got = readFileSync(legacy);
    assert.deepEqual(
      new Uint8Array(got),
      new Uint8Array([...fill(1024, 0x32), ...fill(1024, 0x33)]),
      `${label}: pages 1 and 2`,
    );
    assertSameImage(`${label}: legacy vs block twin`, block, legacy);
  });

  test("legacy-frame L0 vector on a block-encoded base: walship and litestream agree", async (t) => {
    if ("skip" in peers) return t.skip(peers.skip);
    const label = "legacy-frame vector v3legacy-frame-l0-nochecksum.ltx (TXID 9) on an L1 base 1-8";
    const root = join(dir, "vec2");
    const base = [fill(4096, 0x11), fill(4096, 0x12), fill(4096, 0x13)];
    const { bytes } = encodeLtx(
      {
        flags: 2,
        pageSize: 4096,
        commit: 3,
        minTXID: 1n,
        maxTXID: 8n,
        timestamp: 1000n,
        preApplyChecksum: 0n,
        walOffset: 0n,
        walSize: 0n,
        walSalt1: 0,
        walSalt2: 0,
        nodeID: 0n,
      },
      base.map((data, i) => ({ pgno: i + 1, data })),
    );
    const basePath = join(root, "base.ltx");
    mkdirSync(root, { recursive: true });
    writeFileSync(basePath, bytes);
    place(join(root, "rep"), 1, 1n, 8n, basePath);
    place(join(root, "rep"), 0, 9n, 9n, join(FIXTURES, "v3legacy-frame-l0-nochecksum.ltx"));
    const target = replicaTarget(fileBackend(root), "rep");
    const entry = manifest.find((m) => m.file === "v3legacy-frame-l0-nochecksum.ltx")!;
    assert.ok(
      entry.pages.every((p) => p.encoding.includes("frame")),
      "the vector is legacy-frame encoded",
    );

    for (const reader of ["walship", "litestream"] as const) {
      const out = join(root, `${reader}.db`);
      await restoreWith(reader, peers, target, out, `${label} -> ${reader} restore`);
      const img = readFileSync(out);
      assert.equal(img.length, 3 * 4096, `${label} -> ${reader} restore: size`);
      assert.equal(sha(img.subarray(0, 4096)), entry.pages[0]!.dataSha256, `${label} -> ${reader}: page 1`);
      assert.deepEqual(
        new Uint8Array(img.subarray(4096, 8192)),
        base[1],
        `${label} -> ${reader}: page 2 (base)`,
      );
      assert.equal(sha(img.subarray(8192)), entry.pages[1]!.dataSha256, `${label} -> ${reader}: page 3`);
    }
    const w8 = join(root, "w8.db");
    await restoreWith("walship", peers, target, w8, `${label} -> walship restore --txid 8`, { txid: 8n });
    assert.deepEqual(
      new Uint8Array(readFileSync(w8)),
      new Uint8Array(Buffer.concat(base)),
      `${label}: TXID 8`,
    );
  });

  test("a Litestream replica re-encoded into legacy frames restores with both tools", async (t) => {
    if ("skip" in peers) return t.skip(peers.skip);
    const label = "litestream wrote, re-encoded to legacy frames, file";
    const caseDir = join(dir, "reencode");
    mkdirSync(caseDir, { recursive: true });
    const b = fileBackend(join(caseDir, "replicas"));
    const orig = replicaTarget(b, "block");
    const legacy = replicaTarget(b, "legacy");
    const app = new App(join(caseDir, "app.db"), 4096);
    try {
      app.insert(10, 100);
      const tool = await startTool("litestream", peers, app.path, orig, { label });
      try {
        await runSteps(app, SHAPES.grow4096.steps, orig, label);
      } finally {
        await tool.stop();
      }
      const src = orig.client();
      const dst = legacy.client();
      let files = 0;
      for (let level = 0; level <= 9; level++) {
        for (const f of await src.list(level)) {
          const d = await decodeLtx(await src.open(level, f.minTXID, f.maxTXID));
          assert.ok(
            d.pages.every((p) => p.encoding === "lz4-block"),
            `${label}: Litestream wrote blocks`,
          );
          const { bytes } = encodeLtx(d.header, d.pages, { legacyFrames: true });
          const check = await decodeLtx(bytes);
          assert.ok(
            check.pages.every((p) => p.encoding === "lz4-frame"),
            `${label}: re-encoded as frames`,
          );
          await dst.write(level, f.minTXID, f.maxTXID, bytes, { timestamp: Number(d.header.timestamp) });
          files++;
        }
      }
      assert.ok(files > 2, `${label}: only ${files} files`);
      await src.close();
      await dst.close();
      await checkBothReaders(peers, legacy, app, caseDir, label, { txids: await sampleTXIDs(legacy, 4) });
    } finally {
      app.close();
    }
  });
});
