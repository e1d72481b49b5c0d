/** Compaction (§6.5) and apply: fixture vectors, chain rules, and seeded chains against a model database. */
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { applyLtxFiles, applyLtxToFile, applyToBuffer } from "../../src/ltx/apply.js";
import { databaseImageChecksum } from "../../src/ltx/checksum.js";
import { type CompactOptions, compactLtx } from "../../src/ltx/compactor.js";
import { CHECKSUM_FLAG } from "../../src/ltx/crc64.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import { lockPgno } from "../../src/ltx/header.js";
import { type LtxSource, mergePages } from "../../src/ltx/merge.js";
import {
  chunked,
  fixture,
  header,
  type Rng,
  rep,
  seedFor,
  sha256,
  textLikePage,
  withSeed,
} from "./helpers.js";

async function compact(inputs: LtxSource[], opts: CompactOptions = {}) {
  const chunks: Uint8Array[] = [];
  const res = await compactLtx(inputs, async (c) => void chunks.push(c.slice()), opts);
  const bytes = new Uint8Array(Buffer.concat(chunks));
  assert.equal(bytes.length, res.size);
  return { res, bytes };
}

describe("compaction of the test vectors", () => {
  test("A + B equals the Go compactor's output", async () => {
    const want = fixture("v3-compacted-0000000000000002-0000000000000004.ltx");
    const { res, bytes } = await compact([
      fixture("v3-compact-input-a.ltx"),
      fixture("v3-compact-input-b.ltx"),
    ]);
    const got = await decodeLtx(bytes);
    const exp = await decodeLtx(want);
    assert.deepEqual(got.header, exp.header);
    assert.deepEqual(res.header, exp.header);
    assert.deepEqual(
      got.pages.map((p) => [p.pgno, sha256(p.data)]),
      exp.pages.map((p) => [p.pgno, sha256(p.data)]),
    );
    assert.deepEqual(
      got.index.map((e) => e.pgno),
      [1, 2],
    );
    assert.equal(got.trailer.postApplyChecksum, 0n);
    // Same LZ4 compressor as Go, hence the same bytes and file checksum.
    assert.deepEqual(bytes, want);
    assert.equal(res.fileChecksum, exp.trailer.fileChecksum);
  });

  test("snapshot + tracked incremental compacts into a tracked snapshot with the chain's post-apply", async () => {
    const inputs = [fixture("v3-snapshot-sqlite-4096x10.ltx"), fixture("v3-incremental-checksum.ltx")];
    const { res, bytes } = await compact(inputs, { flags: 0 });
    assert.equal(res.header.minTXID, 1n);
    assert.equal(res.header.maxTXID, 14n);
    assert.equal(res.header.commit, 11);
    assert.equal(res.postApplyChecksum.toString(16), "9daf72f77794c463");
    const d = await decodeLtx(bytes);
    assert.equal(d.pages.length, 11);
    // NoChecksum output from tracked inputs is a valid Litestream file (Go fails here: litestream#1427).
    const nc = await compact(inputs);
    assert.equal(nc.res.header.flags, 2);
    assert.equal(nc.res.postApplyChecksum, 0n);
    assert.equal((await decodeLtx(nc.bytes)).trailer.postApplyChecksum, 0n);
    const want = (
      await readFile(
        join(import.meta.dirname, "../fixtures/ltx/generated/db-after-incremental.bin.sha256"),
        "utf8",
      )
    ).split(/\s+/)[0];
    assert.equal(sha256((await applyToBuffer([nc.bytes])).image), want);
  });

  test("a tracked incremental compaction keeps the first pre-apply and last post-apply", async () => {
    const h1 = header({
      flags: 0,
      minTXID: 2n,
      maxTXID: 2n,
      commit: 1,
      preApplyChecksum: CHECKSUM_FLAG | 1n,
    });
    const h2 = header({
      flags: 0,
      minTXID: 3n,
      maxTXID: 3n,
      commit: 1,
      preApplyChecksum: CHECKSUM_FLAG | 2n,
    });
    const a = encodeLtx(h1, [{ pgno: 1, data: rep(1, 4096) }], {
      postApplyChecksum: CHECKSUM_FLAG | 2n,
    }).bytes;
    const b = encodeLtx(h2, [{ pgno: 1, data: rep(2, 4096) }], {
      postApplyChecksum: CHECKSUM_FLAG | 3n,
    }).bytes;
    const { res } = await compact([a, b], { flags: 0 });
    assert.equal(res.header.preApplyChecksum, CHECKSUM_FLAG | 1n);
    assert.equal(res.postApplyChecksum, CHECKSUM_FLAG | 3n);
    await assert.rejects(
      compact([fixture("v3-compact-input-a.ltx")], { flags: 0 }),
      /has the NoChecksum flag/,
    );
  });

  test("timestamp override, WAL fields and NodeID cleared", async () => {
    const { res } = await compact([fixture("interop-python-literal-blocks-nochecksum-nodeid.ltx")], {
      timestamp: 42n,
    });
    assert.equal(res.header.timestamp, 42n);
    assert.equal(res.header.nodeID, 0n);
    assert.equal(res.header.walOffset, 0n);
  });
});

describe("chain rules", () => {
  test("a TXID gap is a replica_gap error naming both ranges", async () => {
    const a = fixture("v3-compact-input-a.ltx"); // 2-2
    const c = fixture("v3-l0-nochecksum-sparse.ltx"); // 7-7
    await assert.rejects(compact([a, c]), (e: unknown) => {
      assert.ok(isWalshipError(e, "replica_gap"), String(e));
      assert.match(
        e.message,
        /non-contiguous transaction ids in input files: \(0000000000000002,0000000000000002\) -> \(0000000000000007,0000000000000007\)/,
      );
      return true;
    });
    const { res } = await compact([a, c], { allowNonContiguous: true });
    assert.equal(res.header.maxTXID, 7n);
  });

  test("inputs given as file streams are closed when the merge fails", async () => {
    const dir = join(import.meta.dirname, "../fixtures/ltx/generated");
    const gap = [
      createReadStream(join(dir, "v3-compact-input-a.ltx")),
      createReadStream(join(dir, "v3-l0-nochecksum-sparse.ltx")),
    ];
    await assert.rejects(compact(gap), (e: unknown) => isWalshipError(e, "replica_gap"));
    assert.ok(gap.every((s) => s.destroyed));
    const bad = [createReadStream(join(dir, "v3-compact-input-a.ltx"))];
    await assert.rejects(compact(bad, { flags: 0 }), /NoChecksum/);
    assert.ok(bad[0].destroyed);
  });

  test("overlap is allowed, repeating a range is not", async () => {
    const mk = (min: bigint, max: bigint) =>
      encodeLtx(header({ minTXID: min, maxTXID: max, commit: 1 }), [
        { pgno: 1, data: rep(Number(max), 4096) },
      ]).bytes;
    const { res } = await compact([mk(2n, 5n), mk(4n, 8n)]);
    assert.equal(res.header.minTXID, 2n);
    assert.equal(res.header.maxTXID, 8n);
    await assert.rejects(compact([mk(2n, 5n), mk(3n, 5n)]), (e: unknown) => isWalshipError(e, "replica_gap"));
  });

  test("page sizes must agree; at least one input", async () => {
    await assert.rejects(
      compact([fixture("v3-snapshot-ps512-2pages.ltx"), fixture("v3-compact-input-b.ltx")]),
      /different page sizes/,
    );
    await assert.rejects(compact([]), /at least one LTX input/);
  });

  test("a snapshot chain that leaves a hole is refused", async () => {
    const snap = encodeLtx(header({ commit: 1 }), [{ pgno: 1, data: rep(1, 4096) }]).bytes;
    const grow = encodeLtx(header({ minTXID: 2n, maxTXID: 2n, commit: 3 }), [
      { pgno: 3, data: rep(3, 4096) },
    ]).bytes;
    await assert.rejects(compact([snap, grow]), /has no page 2 although commit is 3/);
    await assert.rejects(applyToBuffer([snap, grow]), /has no page 2/);
  });

  test("apply needs a base unless the chain starts with a snapshot", async () => {
    await assert.rejects(applyToBuffer([fixture("v3-compact-input-a.ltx")]), /base database is required/);
    await assert.rejects(
      applyToBuffer([fixture("v3-compact-input-a.ltx")], new Uint8Array(100)),
      /not a multiple/,
    );
  });

  test("merge streams are single-use and report post-apply only when complete", async () => {
    const m = await mergePages([fixture("v3-snapshot-ps1024-2pages.ltx")]);
    assert.throws(() => m.postApplyChecksum(), /not been fully consumed/);
    for await (const _ of m.pages()) {
      // consume
    }
    assert.equal(m.postApplyChecksum().toString(16), "e1899b6d587aaaaa");
    await assert.rejects(m.pages().next(), /only be consumed once/);
  });

  test("a corrupt input fails the merge even when its pages are past the final commit", async () => {
    const a = fixture("v3-compact-input-a.ltx");
    a[190] ^= 1; // inside page 3's block; page 3 is dropped (commit 2) but still verified
    await assert.rejects(compact([a, fixture("v3-compact-input-b.ltx")]), (e: unknown) => isWalshipError(e));
  });
});

/** A database as a list of pages; the model that compaction and apply are checked against. */
type Model = Uint8Array[];

function image(model: Model, ps: number): Uint8Array {
  const out = new Uint8Array(model.length * ps);
  for (const [i, p] of model.entries()) out.set(p, i * ps);
  const lock = lockPgno(ps);
  if (model.length >= lock) out.fill(0, (lock - 1) * ps, lock * ps);
  return out;
}

interface Chain {
  ps: number;
  files: Uint8Array[];
  /** Model after each file. */
  states: Model[];
}

function randomPage(rng: Rng, ps: number): Uint8Array {
  const k = rng.int(4);
  if (k === 0) return rng.bytes(ps);
  if (k === 1) return rep(rng.int(256), ps);
  return textLikePage(rng, ps);
}

/**
 * A snapshot followed by incrementals that grow, shrink or rewrite. As SQLite does, growth writes every
 * new page, so merging (Go semantics: only the final commit truncates) equals applying in order.
 */
function randomChain(rng: Rng, tracked: boolean): Chain {
  const ps = rng.pick([512, 1024, 4096]);
  const flags = tracked ? 0 : 2;
  let model: Model = Array.from({ length: rng.range(0, 12) }, () => randomPage(rng, ps));
  let txid = BigInt(rng.range(1, 3));
  const first = encodeLtx(
    header({ flags, pageSize: ps, commit: model.length, minTXID: 1n, maxTXID: txid }),
    model.map((data, i) => ({ pgno: i + 1, data })),
  );
  const files = [first.bytes];
  const states = [model.slice()];
  let post = first.result.postApplyChecksum;
  const n = rng.range(1, 6);
  for (let f = 0; f < n; f++) {
    const prev = model.length;
    const commit = Math.max(0, prev + rng.range(-4, 5));
    const next = model.slice(0, commit);
    const writes = new Map<number, Uint8Array>();
    for (let pgno = prev + 1; pgno <= commit; pgno++) writes.set(pgno, randomPage(rng, ps));
    for (let pgno = 1; pgno <= Math.min(prev, commit); pgno++)
      if (rng.bool(0.3)) writes.set(pgno, randomPage(rng, ps));
    for (const [pgno, data] of writes) next[pgno - 1] = data;
    const min = txid + 1n;
    txid = min + BigInt(rng.int(3));
    const pages = [...writes.entries()].sort((a, b) => a[0] - b[0]).map(([pgno, data]) => ({ pgno, data }));
    const nextPost = tracked ? databaseImageChecksum(image(next, ps), ps) : undefined;
    const enc = encodeLtx(
      header({
        flags,
        pageSize: ps,
        commit,
        minTXID: min,
        maxTXID: txid,
        preApplyChecksum: tracked ? post : 0n,
      }),
      pages,
      { postApplyChecksum: nextPost, legacyFrames: rng.bool(0.2) },
    );
    post = enc.result.postApplyChecksum;
    files.push(enc.bytes);
    model = next;
    states.push(model.slice());
  }
  return { ps, files, states };
}

describe("seeded chains: compaction equals applying in order", () => {
  const seed = seedFor(20240601);
  test(`100 random chains (seed ${seed})`, async () => {
    await withSeed(seed, async (rng) => {
      for (let iter = 0; iter < 100; iter++) {
        const tracked = rng.bool(0.4);
        const { ps, files, states } = randomChain(rng, tracked);
        const final = image(states[states.length - 1], ps);
        const ctx = `iteration ${iter}`;

        // 1. Whole chain compacted into one snapshot, then applied.
        const { bytes: compacted, res } = await compact(files, { flags: tracked ? 0 : 2 });
        assert.equal(res.header.minTXID, 1n, ctx);
        assert.deepEqual(
          (await applyToBuffer([compacted], undefined, { verifyChecksums: true })).image,
          final,
          ctx,
        );
        if (tracked) assert.equal(res.postApplyChecksum, databaseImageChecksum(final, ps), ctx);

        // 2. Merged apply of the whole chain, fed in awkward chunks.
        const chunkedInputs = files.map((f) => chunked(f, [rng.range(1, 50), rng.range(1, 5000)]));
        assert.deepEqual(
          (await applyToBuffer(chunkedInputs, undefined, { verifyChecksums: true })).image,
          final,
          ctx,
        );

        // 3. One file at a time, as a replica would be followed.
        let db = (await applyToBuffer([files[0]])).image;
        for (let i = 1; i < files.length; i++) {
          db = (await applyToBuffer([files[i]], db, { verifyChecksums: true })).image;
          assert.deepEqual(db, image(states[i], ps), `${ctx} step ${i}`);
        }

        // 4. The incrementals alone compacted, then applied onto the first state.
        if (files.length > 2) {
          const { bytes: tail } = await compact(files.slice(1), { flags: tracked ? 0 : 2 });
          const r = await applyToBuffer([tail], image(states[0], ps), { verifyChecksums: true });
          assert.deepEqual(r.image, final, `${ctx} tail compaction`);
        }
      }
    });
  });

  test("applyLtxFiles restores through the filesystem", async () => {
    const dir = await mkdtemp(join(tmpdir(), "walship-apply-"));
    try {
      await withSeed(seedFor(99), async (rng) => {
        const { ps, files, states } = randomChain(rng, false);
        const paths: string[] = [];
        for (const [i, f] of files.entries()) {
          paths.push(join(dir, `${i}.ltx`));
          await writeFile(paths[i], f);
        }
        const out = join(dir, "db");
        const r = await applyLtxFiles(paths, out);
        const want = image(states[states.length - 1], ps);
        assert.equal(r.size, want.length);
        assert.deepEqual(new Uint8Array(await readFile(out)), want);
        // Incremental apply onto an existing file shrinks or grows it to the new commit.
        await writeFile(out, image(states[0], ps));
        if (files.length > 1) {
          await applyLtxToFile(files.slice(1), out, { verifyChecksums: true });
          assert.deepEqual(new Uint8Array(await readFile(out)), want);
        }
      });
      const bad = fixture("v3-compact-input-a.ltx");
      bad[200] ^= 1;
      await writeFile(join(dir, "bad.ltx"), bad);
      await writeFile(join(dir, "base"), rep(0, 3 * 4096));
      await assert.rejects(
        applyLtxFiles([join(dir, "bad.ltx")], join(dir, "base"), { names: ["L0/bad.ltx"] }),
        /^WalshipError: L0\/bad\.ltx: /,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
