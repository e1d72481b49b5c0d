/**
 * The streaming LZ4 frame reader behind the v0.3 restore (src/restore/legacy/lz4-stream.ts): frames shaped
 * like pierrec/lz4 v4's (4 MiB independent blocks, content checksum, no content size; what Litestream
 * v0.3 wrote) decoded from arbitrarily split input, frames from two other encoders (lz4-napi:
 * independent blocks; lz4js: linked blocks, the whole-frame fallback), concatenated frames, and the
 * errors for damaged input. Plus the incremental xxh32 against the one-shot one.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { test } from "node:test";
import { compressFrameSync, compressSync } from "lz4-napi";
import { xxh32 } from "../../src/ltx/xxh32.js";
import { decodeLz4FrameStream } from "../../src/restore/legacy/lz4-stream.js";
import { Xxh32Stream } from "../../src/restore/legacy/xxh32-stream.js";
import { makeRandom } from "../helpers/random.js";

const BLOCK = 4 << 20;
const lz4js = createRequire(import.meta.url)("lz4js") as { compress(src: Uint8Array): Uint8Array };

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** A frame as pierrec/lz4 v4 writes it by default: FLG 0x64, BD 0x70 (4 MiB), content checksum. */
function pierrecFrame(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [u32(0x184d2204)];
  const desc = Uint8Array.of(0x64, 0x70);
  parts.push(desc, Uint8Array.of((xxh32(desc) >>> 8) & 0xff));
  for (let off = 0; off < data.length; off += BLOCK) {
    const block = data.subarray(off, Math.min(data.length, off + BLOCK));
    // lz4-napi's raw block, without its 4-byte size prefix (walship's compressor takes at most 64 KiB).
    const c = compressSync(Buffer.from(block)).subarray(4);
    if (c.length >= block.length) parts.push(u32(0x80000000 | block.length), block);
    else parts.push(u32(c.length), c);
  }
  parts.push(u32(0), u32(xxh32(data)));
  return Buffer.concat(parts);
}

/** Mixed content: compressible runs and random stretches. */
function sample(size: number, seed: number): Uint8Array {
  const rnd = makeRandom(seed);
  const out = new Uint8Array(size);
  for (let off = 0; off < size; off += 4096) {
    const page = out.subarray(off, off + 4096);
    if (rnd() < 0.3) page.set(randomBytes(page.length));
    else page.fill(Math.floor(rnd() * 256));
  }
  return out;
}

async function* split(b: Uint8Array, seed: number): AsyncGenerator<Uint8Array> {
  const rnd = makeRandom(seed);
  for (let off = 0; off < b.length; ) {
    const n = 1 + Math.floor(rnd() * 300_000);
    yield b.subarray(off, off + n);
    off += n;
  }
}

async function decodeAll(src: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of decodeLz4FrameStream(src, { what: "test" })) parts.push(new Uint8Array(c));
  return Buffer.concat(parts);
}

test("pierrec-shaped multi-block frame (4 MiB blocks), split at random points", async () => {
  const data = sample(10 * 1024 * 1024 + 12345, 7);
  const frame = pierrecFrame(data);
  for (const seed of [1, 2, 3]) {
    assert.ok(Buffer.from(await decodeAll(split(frame, seed))).equals(data), `seed ${seed}`);
  }
});

test("frames from lz4-napi (independent blocks) and lz4js (linked blocks)", async () => {
  const data = sample(3 * 1024 * 1024 + 7, 11);
  const napi = compressFrameSync(Buffer.from(data), { contentChecksum: true });
  assert.ok(Buffer.from(await decodeAll(split(napi, 5))).equals(data), "lz4-napi");
  const js = lz4js.compress(data);
  assert.ok(Buffer.from(await decodeAll(split(js, 6))).equals(data), "lz4js");
});

test("concatenated frames and an empty frame decode in order", async () => {
  const a = sample(100_000, 1);
  const b = sample(5_000_000, 2);
  const both = Buffer.concat([pierrecFrame(a), pierrecFrame(new Uint8Array(0)), pierrecFrame(b)]);
  assert.ok(Buffer.from(await decodeAll(split(both, 9))).equals(Buffer.concat([a, b])));
});

test("damaged frames fail with an lz4 error naming the file", async () => {
  const data = sample(300_000, 3);
  const frame = pierrecFrame(data);
  const bad = new Uint8Array(frame);
  bad[bad.length - 1] ^= 0xff; // content checksum
  await assert.rejects(decodeAll(split(bad, 1)), (e: Error & { code?: string }) => {
    assert.equal(e.code, "lz4");
    assert.match(e.message, /^test: LZ4 content checksum mismatch/);
    return true;
  });
  await assert.rejects(decodeAll(split(frame.subarray(0, frame.length - 9), 1)), /truncated/);
  await assert.rejects(decodeAll(split(Buffer.from("not an lz4 frame"), 1)), /bad LZ4 frame magic/);
  await assert.rejects(decodeAll(split(new Uint8Array(0), 1)), /empty file/);
});

test("incremental xxh32 equals the one-shot xxh32 for any split", () => {
  const rnd = makeRandom(42);
  for (const size of [0, 1, 15, 16, 17, 31, 1000, 65_537]) {
    const data = randomBytes(size);
    const h = new Xxh32Stream();
    for (let off = 0; off < size; ) {
      const n = Math.min(size - off, 1 + Math.floor(rnd() * 40));
      h.update(data.subarray(off, off + n));
      off += n;
    }
    assert.equal(h.digest(), xxh32(data), `size ${size}`);
  }
});
