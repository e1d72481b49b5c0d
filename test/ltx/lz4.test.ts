import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import { compressFrameSync, compressSync, uncompressSync } from "lz4-napi";
import { isWalshipError } from "../../src/errors.js";
import {
  compressBlock,
  compressBound,
  decompressBlock,
  decompressFrame,
  encodeLegacyFrame,
} from "../../src/ltx/lz4.js";
import { xxh32 } from "../../src/ltx/xxh32.js";

/** The subset of lz4js@0.2.0 used here; the package ships no type declarations. */
interface Lz4js {
  compressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    hashTable: Uint32Array,
  ): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
  compress(src: Uint8Array): Uint8Array;
  decompress(src: Uint8Array, maxSize?: number): Uint8Array;
}
const lz4js = createRequire(import.meta.url)("lz4js") as Lz4js;

const GENERATED = join(import.meta.dirname, "../fixtures/ltx/generated");

interface ManifestPage {
  pgno: number;
  pageFlags: number;
  frameOffset: number;
  frameSize: number;
  dataSha256: string;
  compressedSize?: number;
}
interface ManifestFile {
  file: string;
  header: { pageSize: number };
  pages: ManifestPage[];
}
const manifest = JSON.parse(readFileSync(join(GENERATED, "manifest.json"), "utf8")) as ManifestFile[];
const vector = (name: string): Buffer => readFileSync(join(GENERATED, name));
const sha256 = (a: Uint8Array): string => createHash("sha256").update(a).digest("hex");
const hex = (a: Uint8Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");

/** Seeded xorshift32, so every generated corpus and fuzz case reproduces. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const WORDS =
  "the of and to in is it that was for on are with as be at by this had not from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three".split(
    " ",
  );

function textPage(next: () => number, n: number): Uint8Array {
  const a = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const w = WORDS[next() % WORDS.length];
    for (let k = 0; k < w.length && i < n; k++) a[i++] = w.charCodeAt(k);
    if (i < n) a[i++] = next() % 13 === 0 ? 10 : 32;
  }
  return a;
}

/** A table-b-tree-leaf-like page: header, cell pointers, free zeros, records packed at the end. */
function sqlitePage(next: () => number, n: number): Uint8Array {
  const a = new Uint8Array(n);
  a[0] = 0x0d;
  let end = n;
  let cells = 0;
  while (end > n / 3) {
    const name = `${WORDS[next() % WORDS.length]}_${next() % 100000}@example.com`;
    const rec = new Uint8Array(12 + name.length);
    rec[0] = rec.length - 2;
    rec[1] = cells & 0x7f;
    rec[2] = 4;
    rec[3] = 1;
    rec[4] = 13 + name.length * 2;
    rec[5] = 6;
    rec[6] = cells;
    for (let k = 0; k < name.length; k++) rec[7 + k] = name.charCodeAt(k);
    for (let k = 7 + name.length; k < rec.length; k++) rec[k] = next() % 256;
    if (end - rec.length < 8 + 2 * (cells + 1)) break;
    end -= rec.length;
    a.set(rec, end);
    a[8 + 2 * cells] = end >>> 8;
    a[9 + 2 * cells] = end;
    cells++;
  }
  a[3] = cells >>> 8;
  a[4] = cells;
  return a;
}

function randomPage(next: () => number, n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = next();
  return a;
}

function repetitivePage(next: () => number, n: number): Uint8Array {
  const period = 1 + (next() % 11);
  const unit = randomPage(next, period);
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = unit[i % period];
  return a;
}

function corpus(): Array<{ label: string; data: Uint8Array }> {
  const next = rng(20240601);
  const out: Array<{ label: string; data: Uint8Array }> = [];
  const kinds: Array<[string, (n: number) => Uint8Array]> = [
    ["random", (n) => randomPage(next, n)],
    ["zero", (n) => new Uint8Array(n)],
    ["repetitive", (n) => repetitivePage(next, n)],
    ["text", (n) => textPage(next, n)],
    ["sqlite", (n) => sqlitePage(next, n)],
  ];
  const sizes = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65535, 4097, 777];
  for (const [kind, make] of kinds) {
    for (const n of sizes) out.push({ label: `${kind} ${n}`, data: make(n) });
    for (let n = 0; n <= 20; n++) out.push({ label: `${kind} ${n}`, data: make(n) });
    out.push({ label: `${kind} 64`, data: make(64) });
  }
  // Matches that would run into the tail: a long run followed by exactly 5..16 distinct bytes.
  for (let tail = 0; tail <= 16; tail++) {
    const a = new Uint8Array(100 + tail);
    for (let k = 0; k < tail; k++) a[100 + k] = 1 + k;
    out.push({ label: `run+tail ${tail}`, data: a });
  }
  return out;
}

/** Walks a block's sequences and checks the LZ4 end-of-block rules a strict decoder relies on. */
function assertEndRules(block: Uint8Array, n: number, label: string): void {
  let s = 0;
  let d = 0;
  let lastMatchStart = -1;
  let lastMatchEnd = -1;
  for (;;) {
    const token = block[s++];
    let lit = token >>> 4;
    if (lit === 15) for (let b = 255; b === 255; lit += b) b = block[s++];
    s += lit;
    d += lit;
    if (s >= block.length) break;
    s += 2;
    let ml = token & 15;
    if (ml === 15) for (let b = 255; b === 255; ml += b) b = block[s++];
    lastMatchStart = d;
    d += ml + 4;
    lastMatchEnd = d;
  }
  assert.equal(d, n, `${label}: walked length`);
  if (lastMatchStart >= 0) {
    assert.ok(
      lastMatchStart <= n - 12,
      `${label}: last match starts ${n - lastMatchStart} bytes before the end`,
    );
    assert.ok(lastMatchEnd <= n - 5, `${label}: only ${n - lastMatchEnd} trailing literals`);
  }
}

function patch(f: Uint8Array, i: number, v: number): Uint8Array {
  f[i] = v;
  return f;
}

function lz4Error(e: unknown): boolean {
  return isWalshipError(e, "lz4") && e.op === "lz4 decompress" && e.message.length > 0;
}

describe("lz4 compressBlock", () => {
  it("computes the block bound of pierrec/lz4", () => {
    assert.equal(compressBound(0), 16);
    assert.equal(compressBound(4096), 4096 + 16 + 16);
    assert.equal(compressBound(65536), 65536 + 257 + 16);
  });

  it("round-trips through lz4js, lz4-napi and our decoder, following the end-of-block rules", () => {
    for (const { label, data } of corpus()) {
      const n = data.length;
      const dst = new Uint8Array(compressBound(n));
      const c = compressBlock(data, dst);
      assert.ok(c > 0 && c <= compressBound(n), `${label}: size ${c}`);
      const block = dst.subarray(0, c);
      assertEndRules(block, n, label);

      const ours = new Uint8Array(n);
      assert.equal(decompressBlock(block, ours), n, label);
      assert.deepEqual(ours, data, label);

      const viaJs = new Uint8Array(n + 16);
      assert.equal(lz4js.decompressBlock(block, viaJs, 0, c, 0), n, `${label}: lz4js`);
      assert.deepEqual(viaJs.subarray(0, n), data, `${label}: lz4js`);

      const prefixed = Buffer.alloc(4 + c);
      prefixed.writeUInt32LE(n, 0);
      prefixed.set(block, 4);
      assert.deepEqual(new Uint8Array(uncompressSync(prefixed)), data, `${label}: lz4-napi`);
    }
  });

  it("writes a literal-only block for incompressible and tiny inputs, like Go (spec §9)", () => {
    const next = rng(5);
    const cases: Array<[number, number]> = [
      [4096, 4114],
      [65536, 65794],
      [1024, 1029],
      [14, 15],
      [0, 1],
    ];
    for (const [n, want] of cases) {
      const data = randomPage(next, n);
      const dst = new Uint8Array(compressBound(n));
      assert.equal(compressBlock(data, dst), want, `n=${n}`);
    }
  });

  it("reproduces the Go encoder's blocks byte for byte (pierrec/lz4 CompressBlock)", () => {
    let checked = 0;
    for (const file of manifest.filter((f) => f.file.startsWith("v3-"))) {
      const buf = vector(file.file);
      for (const page of file.pages) {
        assert.equal(page.pageFlags, 1);
        const size = buf.readUInt32BE(page.frameOffset + 6);
        const goBlock = buf.subarray(page.frameOffset + 10, page.frameOffset + 10 + size);
        const data = new Uint8Array(file.header.pageSize);
        assert.equal(decompressBlock(goBlock, data), data.length);
        assert.equal(sha256(data), page.dataSha256, `${file.file} page ${page.pgno}`);
        const dst = new Uint8Array(compressBound(data.length));
        const c = compressBlock(data, dst);
        assert.equal(hex(dst.subarray(0, c)), hex(goBlock), `${file.file} page ${page.pgno}`);
        checked++;
      }
    }
    assert.ok(checked >= 25, `${checked} pages`);
  });

  it("rejects inputs above one 64 KiB block and short destinations", () => {
    assert.throws(() => compressBlock(new Uint8Array(65537), new Uint8Array(70000)), RangeError);
    assert.throws(() => compressBlock(new Uint8Array(4096), new Uint8Array(4096)), RangeError);
  });
});

describe("lz4 decompressBlock", () => {
  it("decodes every block-encoded page in the vectors, including lz4js, lz4-napi and literal-only blocks", () => {
    for (const file of manifest.filter((f) => !f.file.startsWith("v3legacy"))) {
      const buf = vector(file.file);
      for (const page of file.pages) {
        const size = buf.readUInt32BE(page.frameOffset + 6);
        if (page.compressedSize !== undefined) assert.equal(size, page.compressedSize);
        const data = new Uint8Array(file.header.pageSize);
        const w = decompressBlock(buf.subarray(page.frameOffset + 10, page.frameOffset + 10 + size), data);
        assert.equal(w, data.length);
        assert.equal(sha256(data), page.dataSha256, `${file.file} page ${page.pgno}`);
      }
    }
  });

  it("decodes blocks made by lz4js.compressBlock and lz4-napi.compressSync", () => {
    const table = new Uint32Array(1 << 16);
    for (const { label, data } of corpus()) {
      const n = data.length;
      table.fill(0);
      const jsBlock = new Uint8Array(compressBound(n) + 16);
      const c = lz4js.compressBlock(data, jsBlock, 0, n, table);
      const out = new Uint8Array(n);
      if (c > 0) {
        assert.equal(decompressBlock(jsBlock.subarray(0, c), out), n, `${label}: lz4js`);
        assert.deepEqual(out, data, `${label}: lz4js`);
      }
      const napi = compressSync(Buffer.from(data));
      assert.equal(napi.readUInt32LE(0), n);
      out.fill(0xee);
      assert.equal(decompressBlock(napi.subarray(4), out), n, `${label}: lz4-napi`);
      assert.deepEqual(out, data, `${label}: lz4-napi`);
    }
  });

  it("throws lz4 errors on malformed blocks", () => {
    const bad: Array<[string, number[], number]> = [
      ["empty block", [], 16],
      ["offset 0", [0x10, 0x41, 0x00, 0x00, 0x10, 0x41], 64],
      ["offset beyond output", [0x10, 0x41, 0x02, 0x00, 0x10, 0x41], 64],
      ["literals past src", [0x50, 0x41, 0x42], 64],
      ["literal length runs off src", [0xf0, 0xff, 0xff], 1 << 20],
      ["match length runs off src", [0x1f, 0x41, 0x01, 0x00, 0xff], 1 << 20],
      ["offset cut off", [0x10, 0x41, 0x01], 64],
      ["ends with a match", [0x10, 0x41, 0x01, 0x00], 64],
      ["literals overflow dst", [0x50, 1, 2, 3, 4, 5], 4],
      ["match overflows dst", [0x1f, 0x41, 0x01, 0x00, 0xff, 0xff, 0x10, 0x00, 0x41], 300],
    ];
    // A long-length overflow: 0xFF run claiming ~2^31 literals must fail fast on the bounds, not loop.
    const huge = new Uint8Array(1 + 8_500_000).fill(0xff);
    huge[0] = 0xf0;
    assert.throws(() => decompressBlock(huge, new Uint8Array(65536)), lz4Error, "huge literal length");
    for (const [label, bytes, outSize] of bad) {
      assert.throws(() => decompressBlock(new Uint8Array(bytes), new Uint8Array(outSize)), lz4Error, label);
    }
    // The same sequences are fine once made valid, so the checks above are not vacuous.
    assert.equal(
      decompressBlock(new Uint8Array([0x10, 0x41, 0x01, 0x00, 0x10, 0x42]), new Uint8Array(64)),
      6,
    );
  });

  it("never escapes with a non-lz4 error or out-of-bounds write under a seeded fuzz (2000 mutations)", () => {
    const next = rng(0xf00d);
    const seeds = corpus().filter((c) => c.data.length >= 16 && c.data.length <= 8192);
    let decoded = 0;
    let rejected = 0;
    for (let iter = 0; iter < 2000; iter++) {
      const { data } = seeds[next() % seeds.length];
      const dst = new Uint8Array(compressBound(data.length));
      let block = dst.slice(0, compressBlock(data, dst));
      const mutations = 1 + (next() % 4);
      for (let m = 0; m < mutations; m++) {
        const kind = next() % 4;
        const at = next() % Math.max(1, block.length);
        if (kind === 0) block[at] = next();
        else if (kind === 1) block[at] ^= 1 << (next() % 8);
        else if (kind === 2) block = block.slice(0, at);
        else {
          const grown = new Uint8Array(block.length + 1);
          grown.set(block.subarray(0, at));
          grown[at] = next();
          grown.set(block.subarray(at), at + 1);
          block = grown;
        }
      }
      // Guard bytes after the output window catch any write past the declared end.
      const backing = new Uint8Array(data.length + 64).fill(0xa5);
      const out = backing.subarray(0, data.length);
      try {
        const w = decompressBlock(block, out);
        assert.ok(w >= 0 && w <= out.length);
        decoded++;
      } catch (e) {
        assert.ok(lz4Error(e), `iteration ${iter}: ${String(e)}`);
        rejected++;
      }
      assert.ok(
        backing.subarray(data.length).every((b) => b === 0xa5),
        `iteration ${iter}: wrote past dst`,
      );
    }
    assert.ok(decoded > 0 && rejected > 0, `decoded ${decoded}, rejected ${rejected}`);
  });
});

describe("lz4 frames (legacy page payloads, spec §3.5)", () => {
  const legacy = manifest.filter((f) => f.file.startsWith("v3legacy"));

  it("uses the header checksum byte pierrec writes for FLG 0x64 BD 0x40", () => {
    assert.equal((xxh32(new Uint8Array([0x64, 0x40])) >>> 8) & 0xff, 0xa7);
    assert.equal(xxh32(new Uint8Array(0)), 0x02cc5d05);
    assert.equal(xxh32(new TextEncoder().encode("abc")), 0x32d153ff);
    assert.equal(xxh32(new TextEncoder().encode("Nobody inspects the spammish repetition")), 0xe2293b2f);
  });

  it("decodes every legacy frame in the vectors, at the offsets of §11.2", () => {
    const twin = vector("v3legacy-frame-snapshot-ps1024-2pages.ltx");
    assert.deepEqual(
      legacy
        .find((f) => f.file === "v3legacy-frame-snapshot-ps1024-2pages.ltx")
        ?.pages.map((p) => p.frameOffset + 6),
      [106, 157],
    );
    assert.equal(decompressFrame(twin.subarray(106), new Uint8Array(1024)).consumed, 45);
    for (const file of legacy) {
      const buf = vector(file.file);
      for (const page of file.pages) {
        const data = new Uint8Array(file.header.pageSize);
        const r = decompressFrame(buf.subarray(page.frameOffset + 6), data);
        assert.equal(r.written, data.length);
        assert.equal(r.consumed, page.frameSize - 6, `${file.file} page ${page.pgno}`);
        assert.equal(sha256(data), page.dataSha256, `${file.file} page ${page.pgno}`);
      }
    }
    // Page 1 of the L0 file is the stored-uncompressed case.
    const l0 = vector("v3legacy-frame-l0-nochecksum.ltx");
    assert.equal(l0.readUInt32LE(113) >>> 0, (0x80000000 | 4096) >>> 0);
  });

  it("encodes the exact frames ltx v0.5.1 wrote, compressed and stored", () => {
    for (const file of legacy) {
      const buf = vector(file.file);
      for (const page of file.pages) {
        const frame = buf.subarray(page.frameOffset + 6, page.frameOffset + page.frameSize);
        const data = new Uint8Array(file.header.pageSize);
        decompressFrame(frame, data);
        const ours = encodeLegacyFrame(data);
        assert.equal(hex(ours), hex(frame), `${file.file} page ${page.pgno}`);
      }
    }
    const twin = vector("v3legacy-frame-snapshot-ps1024-2pages.ltx");
    assert.equal(hex(encodeLegacyFrame(new Uint8Array(1024).fill(0x32))), hex(twin.subarray(106, 151)));
  });

  it("encodes frames that lz4js and our decoder read back, over the corpus", () => {
    for (const { label, data } of corpus()) {
      const frame = encodeLegacyFrame(data);
      assert.deepEqual(frame.subarray(0, 7), new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7]));
      const out = new Uint8Array(data.length);
      assert.deepEqual(decompressFrame(frame, out), { consumed: frame.length, written: data.length }, label);
      assert.deepEqual(out, data, label);
      if (data.length > 0)
        assert.deepEqual(new Uint8Array(lz4js.decompress(frame, data.length)), data, label);
      // Stored only when compression does not shrink the page.
      const stored = data.length > 0 && (frame[10] & 0x80) !== 0;
      assert.equal(stored, frame.length - 19 === data.length && data.length > 0, label);
    }
  });

  it("decodes frames from lz4js and lz4-napi, with block checksums and several linked or independent blocks", () => {
    const next = rng(31337);
    const big = new Uint8Array(200_000);
    for (let i = 0; i < big.length; i += 4096) big.set(textPage(next, Math.min(4096, big.length - i)), i);
    for (const frame of [
      new Uint8Array(lz4js.compress(big)),
      new Uint8Array(compressFrameSync(Buffer.from(big), { contentChecksum: true, blockChecksums: true })),
      new Uint8Array(compressFrameSync(Buffer.from(big))),
    ]) {
      const out = new Uint8Array(big.length);
      const withTail = new Uint8Array(frame.length + 6);
      withTail.set(frame);
      assert.deepEqual(decompressFrame(withTail, out), { consumed: frame.length, written: big.length });
      assert.deepEqual(out, big);
    }
  });

  it("throws precise lz4 errors on malformed frames", () => {
    const good = encodeLegacyFrame(textPage(rng(1), 4096));
    const cases: Array<[string, (f: Uint8Array) => Uint8Array, RegExp]> = [
      ["bad magic", (f) => patch(f, 0, 0x05), /magic/],
      ["header checksum", (f) => patch(f, 6, f[6] ^ 1), /header checksum/],
      ["content checksum", (f) => patch(f, f.length - 1, f[f.length - 1] ^ 1), /content checksum/],
      ["truncated", (f) => f.subarray(0, f.length - 3), /truncated/],
      ["no EndMark", (f) => f.subarray(0, f.length - 8), /truncated/],
      ["block too big", (f) => patch(f, 9, 0x01), /exceeds the 65536-byte maximum/],
      ["version", (f) => patch(f, 4, 0xa4), /version/],
    ];
    for (const [label, mutate, pattern] of cases) {
      assert.throws(
        () => decompressFrame(mutate(good.slice()), new Uint8Array(4096)),
        (e: unknown) => lz4Error(e) && pattern.test((e as Error).message),
        label,
      );
    }
    assert.throws(() => decompressFrame(good, new Uint8Array(4095)), lz4Error, "overflow");
    const stored = encodeLegacyFrame(randomPage(rng(2), 4096));
    assert.throws(() => decompressFrame(stored, new Uint8Array(4000)), lz4Error, "stored overflow");
  });

  it("survives a seeded fuzz of legacy frames with decode-or-lz4-error", () => {
    const next = rng(77);
    const frames = [textPage, sqlitePage, randomPage].map((make) => encodeLegacyFrame(make(rng(9), 4096)));
    for (let iter = 0; iter < 500; iter++) {
      const f = frames[iter % frames.length].slice();
      for (let m = 1 + (next() % 3); m > 0; m--) f[next() % f.length] = next();
      try {
        decompressFrame(f.subarray(0, f.length - (next() % 3)), new Uint8Array(4096));
      } catch (e) {
        assert.ok(lz4Error(e), `iteration ${iter}: ${String(e)}`);
      }
    }
  });
});
