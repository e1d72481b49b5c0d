/**
 * coalesce(): the bytes that come out are the bytes that went in, in order, in pieces no larger than the
 * coalesce size (except a chunk that alone is that large), whatever the chunk sizes; the buffer starts
 * small and grows, so a small file never costs a full-size buffer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { coalesce } from "../../src/db/coalesce.js";

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function run(sizes: number[], size: number): Promise<{ out: Uint8Array[]; input: Uint8Array }> {
  const chunks = sizes.map((n, i) => pattern(n, i));
  const out: Uint8Array[] = [];
  // Copy each piece at once: the generator may reuse nothing, but the test must not depend on that.
  for await (const c of coalesce(chunks, size)) out.push(c.slice());
  const input = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
  let off = 0;
  for (const c of chunks) {
    input.set(c, off);
    off += c.length;
  }
  return { out, input };
}

function joined(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return all;
}

test("coalesce keeps every byte in order across growth and flush boundaries", async () => {
  const cases: Array<{ sizes: number[]; size: number }> = [
    { sizes: [], size: 1024 },
    { sizes: [100], size: 1024 },
    { sizes: [4096, 4096, 4096, 4096, 4096], size: 1 << 20 },
    { sizes: Array.from({ length: 700 }, (_, i) => 1000 + (i % 7) * 500), size: 1 << 20 },
    { sizes: [10, 5000, 3, 70_000, 2, 1 << 20, 9], size: 64 * 1024 },
    { sizes: [64 * 1024, 1, 64 * 1024 - 1, 64 * 1024], size: 64 * 1024 },
  ];
  for (const { sizes, size } of cases) {
    const { out, input } = await run(sizes, size);
    assert.deepEqual(joined(out), input, `sizes ${sizes.length} size ${size}`);
    for (const p of out) {
      assert.ok(p.length > 0, "no empty pieces");
      // A piece above the size is only ever one input chunk passed through whole.
      if (p.length > size) assert.ok(sizes.includes(p.length), `piece of ${p.length} > ${size}`);
    }
  }
});

test("a small input yields one piece in a small buffer", async () => {
  const pieces: Uint8Array[] = [];
  for await (const c of coalesce([pattern(3000, 1), pattern(3000, 2)])) pieces.push(c);
  assert.equal(pieces.length, 1);
  assert.equal(pieces[0]!.length, 6000);
  assert.ok(pieces[0]!.buffer.byteLength < 64 * 1024, `buffer of ${pieces[0]!.buffer.byteLength} bytes`);
});
