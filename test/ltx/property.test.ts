/**
 * Seeded properties: encode∘decode is the identity; no single-byte change or truncation is silently
 * accepted. Failures print the seed; rerun with WALSHIP_SEED=<seed>.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { CHECKSUM_FLAG } from "../../src/ltx/crc64.js";
import { type DecodedLtx, decodeLtx, LtxDecoder } from "../../src/ltx/decoder.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import type { LtxHeader } from "../../src/ltx/header.js";
import { readPage, readPageIndex } from "../../src/ltx/page-index.js";
import { chunked, fixture, header, manifest, Rng, rep, seedFor, textLikePage, withSeed } from "./helpers.js";

const PAGE_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

interface Spec {
  header: LtxHeader;
  pages: { pgno: number; data: Uint8Array }[];
  legacy: boolean;
  post: bigint | undefined;
}

function page(rng: Rng, ps: number): Uint8Array {
  switch (rng.int(5)) {
    case 0:
      return rng.bytes(ps);
    case 1:
      return rep(rng.int(256), ps);
    case 2: {
      // Mostly zeros with a random island, like a sparsely filled b-tree page.
      const b = new Uint8Array(ps);
      const at = rng.int(ps);
      b.set(rng.bytes(Math.min(ps - at, rng.range(1, 64))), at);
      return b;
    }
    default:
      return textLikePage(rng, ps);
  }
}

function randomSpec(rng: Rng, maxBytes = 256 * 1024): Spec {
  const ps = rng.pick(PAGE_SIZES);
  const maxPages = Math.max(1, Math.min(40, Math.floor(maxBytes / ps)));
  const snapshot = rng.bool(0.4);
  const tracked = rng.bool(0.4);
  const commit = rng.range(snapshot ? 0 : 0, maxPages);
  const pgnos: number[] = [];
  if (snapshot) for (let p = 1; p <= commit; p++) pgnos.push(p);
  else for (let p = 1; p <= commit; p++) if (rng.bool(0.4)) pgnos.push(p);
  const minTXID = snapshot ? 1n : BigInt(rng.range(2, 1000));
  const h = header({
    flags: tracked ? 0 : 2,
    pageSize: ps,
    commit,
    minTXID,
    maxTXID: minTXID + BigInt(rng.int(5)),
    timestamp: BigInt(rng.next()) * 1000n - 2n ** 31n,
    preApplyChecksum: tracked && !snapshot ? CHECKSUM_FLAG | BigInt(rng.next()) : 0n,
    walOffset: rng.bool() ? BigInt(32 + rng.int(1 << 20)) : 0n,
    nodeID: rng.bool(0.2) ? BigInt(rng.next()) << 20n : 0n,
  });
  if (h.walOffset > 0n) {
    h.walSize = BigInt(rng.int(1 << 20));
    h.walSalt1 = rng.next();
    h.walSalt2 = rng.next();
  }
  let post: bigint | undefined;
  if (tracked && !snapshot) post = commit === 0 ? CHECKSUM_FLAG : CHECKSUM_FLAG | BigInt(rng.next());
  return {
    header: h,
    pages: pgnos.map((pgno) => ({ pgno, data: page(rng, ps) })),
    legacy: rng.bool(0.25),
    post,
  };
}

function logical(d: DecodedLtx): unknown {
  return {
    header: d.header,
    pages: d.pages.map((p) => [p.pgno, Buffer.from(p.data).toString("base64")]),
    trailer: d.trailer,
  };
}

/** Byte ranges holding LZ4 payload: the only places a change may decode to the same content (§5.5). */
function payloadRanges(d: DecodedLtx): [number, number][] {
  return d.pages.map((p) => [p.offset + (p.encoding === "lz4-block" ? 10 : 6), p.offset + p.size]);
}

/**
 * Applies `mutate` at each position and asserts the decoder either throws a WalshipError or returns
 * exactly the original logical content from a change inside an LZ4 payload. Returns how many were benign.
 */
async function checkMutations(
  bytes: Uint8Array,
  positions: Iterable<number>,
  rng: Rng,
  label: string,
): Promise<number> {
  const orig = await decodeLtx(bytes);
  const want = logical(orig);
  const payload = payloadRanges(orig);
  let benign = 0;
  for (const pos of positions) {
    const b = bytes.slice();
    b[pos] ^= rng.range(1, 255);
    let d: DecodedLtx;
    try {
      d = await decodeLtx(b);
    } catch (e) {
      assert.ok(isWalshipError(e), `${label}: byte ${pos}: non-WalshipError ${String(e)}`);
      continue;
    }
    assert.ok(
      payload.some(([s, e]) => pos >= s && pos < e),
      `${label}: change at byte ${pos} outside any LZ4 payload was accepted`,
    );
    assert.deepEqual(logical(d), want, `${label}: change at byte ${pos} was accepted with different content`);
    benign++;
  }
  return benign;
}

async function checkTruncations(bytes: Uint8Array, lengths: Iterable<number>, label: string): Promise<void> {
  for (const n of lengths) {
    await assert.rejects(
      decodeLtx(bytes.subarray(0, n)),
      (e: unknown) => isWalshipError(e, "ltx_truncated"),
      `${label}: truncation to ${n} bytes not reported as ltx_truncated`,
    );
  }
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** All positions up to `all` bytes, otherwise header, index and trailer fully plus a sample of the rest. */
function positions(bytes: Uint8Array, rng: Rng, all = 4096, sample = 1500): number[] {
  if (bytes.length <= all) return [...range(bytes.length)];
  const out = new Set<number>();
  for (let i = 0; i < 120; i++) out.add(i);
  for (let i = Math.max(0, bytes.length - 200); i < bytes.length; i++) out.add(i);
  while (out.size < sample) out.add(rng.int(bytes.length));
  return [...out].sort((a, b) => a - b);
}

describe("encode ∘ decode", () => {
  const seed = seedFor(0x5eed);
  test(`200 random files round-trip (seed ${seed})`, async () => {
    await withSeed(seed, async (rng) => {
      for (let i = 0; i < 200; i++) {
        const s = randomSpec(rng);
        const { bytes, result } = encodeLtx(s.header, s.pages, {
          legacyFrames: s.legacy,
          postApplyChecksum: s.post,
        });
        const sizes = [rng.range(1, 64), rng.range(1, 70000)];
        const d = rng.bool() ? await decodeLtx(bytes) : await decodeChunked(bytes, sizes);
        const ctx = `file ${i} (ps ${s.header.pageSize}, ${s.pages.length} pages)`;
        assert.deepEqual(d.header, s.header, ctx);
        assert.equal(d.pages.length, s.pages.length, ctx);
        d.pages.forEach((p, k) => {
          assert.equal(p.pgno, s.pages[k].pgno, ctx);
          assert.deepEqual(p.data, s.pages[k].data, ctx);
          assert.equal(p.encoding, s.legacy ? "lz4-frame" : "lz4-block", ctx);
        });
        assert.deepEqual(d.index, result.index, ctx);
        assert.equal(d.trailer.fileChecksum, result.fileChecksum, ctx);
        assert.equal(d.trailer.postApplyChecksum, result.postApplyChecksum, ctx);
        assert.equal(d.size, bytes.length, ctx);
        const read = async (o: number, n: number) => bytes.subarray(o, o + n);
        const idx = await readPageIndex(read, bytes.length);
        assert.deepEqual(idx.entries, result.index, ctx);
        for (const e of idx.entries.slice(0, 3)) {
          assert.deepEqual(
            await readPage(read, e, s.header.pageSize),
            s.pages.find((p) => p.pgno === e.pgno)?.data,
          );
        }
      }
    });
  });
});

async function decodeChunked(bytes: Uint8Array, sizes: number[]): Promise<DecodedLtx> {
  const d = new LtxDecoder(chunked(bytes, sizes));
  await d.readHeader();
  const pages = [];
  for await (const p of d) pages.push(p);
  return { ...(await d.finish()), pages };
}

describe("corruption is never silently accepted", () => {
  for (const m of manifest) {
    test(`${m.file}: every single-byte change and every truncation`, async () => {
      const bytes = fixture(m.file);
      const rng = new Rng(seedFor(m.size));
      await withSeed(rng.seed, async (r) => {
        await checkMutations(bytes, positions(bytes, r), r, m.file);
        const lens = bytes.length <= 4096 ? [...range(bytes.length)] : positions(bytes, r, 0, 600);
        await checkTruncations(bytes, lens, m.file);
      });
    });
  }

  const seed = seedFor(0xbadf00d);
  test(`random small files: all positions, all truncations (seed ${seed})`, async () => {
    await withSeed(seed, async (rng) => {
      let benign = 0;
      for (let i = 0; i < 12; i++) {
        const s = randomSpec(rng, 4096);
        const { bytes } = encodeLtx(s.header, s.pages, { legacyFrames: s.legacy, postApplyChecksum: s.post });
        benign += await checkMutations(bytes, positions(bytes, rng, 6000, 1500), rng, `file ${i}`);
        await checkTruncations(
          bytes,
          bytes.length <= 6000 ? range(bytes.length) : positions(bytes, rng, 0, 500),
          `file ${i}`,
        );
      }
      // Benign changes exist (e.g. a match offset 1 → 2 in a run of equal bytes) but must stay rare.
      assert.ok(benign < 200, `${benign} benign mutations`);
    });
  });
});
