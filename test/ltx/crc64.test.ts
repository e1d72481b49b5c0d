import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CHECKSUM_FLAG, Crc64, crc64, pageChecksum } from "../../src/ltx/crc64.js";

const GENERATED = join(import.meta.dirname, "../fixtures/ltx/generated");
const DATABASE = join(
  import.meta.dirname,
  "../fixtures/ltx/litestream/testdata/store/open-and-write-snapshot/dbs/sqlite.db/database",
);

/** Bit-at-a-time BigInt CRC-64/GO-ISO straight from the spec (§5.1), to check the sliced one against. */
function referenceCrc64(data: Uint8Array): bigint {
  const mask = 0xffffffffffffffffn;
  let crc = mask;
  for (const b of data) {
    crc ^= BigInt(b);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ 0xd800000000000000n : crc >> 1n;
  }
  return crc ^ mask;
}

/** Seeded xorshift32, so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function randomBytes(next: () => number, n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = next();
  return a;
}

const rep = (b: number, n: number): Uint8Array => new Uint8Array(n).fill(b);

describe("crc64 (CRC-64/GO-ISO)", () => {
  it("matches the check value and the ltx-rs vector", () => {
    assert.equal(crc64(new TextEncoder().encode("123456789")), 0xb90956c775a41001n);
    assert.equal(crc64(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), 0x5c98d47bea58893dn);
    assert.equal(crc64(new Uint8Array(0)), 0n);
  });

  it("equals the bitwise reference for every length 0..300 and random contents", () => {
    const next = rng(0xc0ffee);
    for (let n = 0; n <= 300; n++) {
      const data = randomBytes(next, n);
      assert.equal(crc64(data), referenceCrc64(data), `length ${n}`);
    }
  });

  it("honours the byte offset of a subarray view", () => {
    const next = rng(7);
    const big = randomBytes(next, 4200);
    for (const [a, b] of [
      [1, 4097],
      [3, 3],
      [5, 4200],
      [4095, 4101],
    ]) {
      const view = big.subarray(a, b);
      assert.equal(crc64(view), referenceCrc64(view.slice()));
    }
  });

  it("streams in random chunk splits to the one-shot value", () => {
    const next = rng(12345);
    for (let round = 0; round < 50; round++) {
      const data = randomBytes(next, 1 + (next() % 9000));
      const want = crc64(data);
      const h = new Crc64();
      let pos = 0;
      while (pos < data.length) {
        const end = Math.min(data.length, pos + (next() % 40));
        // Alternate between (data, start, end) and subarray views, which must be equivalent.
        if (next() & 1) h.update(data, pos, end);
        else h.update(data.subarray(pos, end));
        pos = end;
      }
      assert.equal(h.digest(), want);
      // digest() does not disturb the state, and reset() starts over.
      assert.equal(h.digest(), want);
      h.reset();
      h.update(data);
      assert.equal(h.digest(), want);
    }
  });

  it("rejects an out-of-range update", () => {
    const h = new Crc64();
    assert.throws(() => h.update(new Uint8Array(4), 2, 5), RangeError);
    assert.throws(() => h.update(new Uint8Array(4), 3, 2), RangeError);
  });
});

describe("pageChecksum", () => {
  it("matches the known values of spec §5.6", () => {
    assert.equal(CHECKSUM_FLAG, 1n << 63n);
    assert.equal(pageChecksum(1, rep(0x32, 1024)), 0xe0d53ff6f3d08215n);
    assert.equal(pageChecksum(2, rep(0x33, 1024)), 0x815ca49babaa28bfn);
    assert.equal(pageChecksum(1, rep(0x01, 512)), 0xe4e4aaa102377eeen);
    assert.equal(pageChecksum(2, rep(0x02, 512)), 0xc9c9554231044dddn);
    assert.equal(pageChecksum(3, rep(0x03, 512)), 0xc2d2001cdfeaa333n);
  });

  it("equals FLAG | crc64(u32BE(pgno) || data), including large page numbers", () => {
    const next = rng(99);
    for (const pgno of [1, 255, 256, 65537, 262145, 0x7fffffff, 0xffffffff]) {
      const data = randomBytes(next, 512);
      const buf = new Uint8Array(4 + data.length);
      new DataView(buf.buffer).setUint32(0, pgno);
      buf.set(data, 4);
      assert.equal(pageChecksum(pgno, data), CHECKSUM_FLAG | referenceCrc64(buf));
    }
  });

  it("reproduces the database checksum of the Litestream test database (XOR of pages)", () => {
    const db = readFileSync(DATABASE);
    let acc = 0n;
    for (let p = 1; p * 4096 <= db.length; p++) acc ^= pageChecksum(p, db.subarray((p - 1) * 4096, p * 4096));
    assert.equal((CHECKSUM_FLAG | acc).toString(16), "fe3831a381c602b9");
  });

  it("reproduces every pageChecksum in the vector manifest (pages rebuilt from their descriptions)", () => {
    interface ManifestPage {
      pgno: number;
      pageChecksum: string;
      data: string;
    }
    const manifest = JSON.parse(readFileSync(join(GENERATED, "manifest.json"), "utf8")) as Array<{
      file: string;
      header: { pageSize: number };
      pages: ManifestPage[];
    }>;
    const db = readFileSync(DATABASE);
    let checked = 0;
    for (const file of manifest) {
      const ps = file.header.pageSize;
      for (const page of file.pages) {
        const data = rebuild(page.data, ps, db);
        assert.ok(data, `${file.file} page ${page.pgno}: cannot rebuild "${page.data}"`);
        assert.equal(
          pageChecksum(page.pgno, data).toString(16),
          page.pageChecksum,
          `${file.file} page ${page.pgno}`,
        );
        checked++;
      }
    }
    assert.equal(checked, 50);
  });
});

/** Rebuilds a page from the manifest's description (test vectors README, "Deterministic page contents"). */
function rebuild(desc: string, ps: number, db: Uint8Array): Uint8Array | undefined {
  let m = /^(\d+) x 0x([0-9a-f]{2})\b/i.exec(desc);
  if (m) return rep(Number.parseInt(m[2], 16), Number(m[1]));
  m = /^(\d+) x '(.)'$/.exec(desc);
  if (m) return rep(m[2].charCodeAt(0), Number(m[1]));
  m = /^xorshift64 bytes, seed (0x[0-9a-f]+|\d+)/i.exec(desc);
  if (m) return xorshift64(BigInt(m[1]), ps);
  if (desc.startsWith("'page eleven' then zeros")) {
    const a = new Uint8Array(ps);
    a.set(new TextEncoder().encode("page eleven"));
    return a;
  }
  m = /^page (\d+) of litestream .*\/database$/.exec(desc);
  if (m && ps === 4096) return db.subarray((Number(m[1]) - 1) * 4096, Number(m[1]) * 4096);
  return undefined;
}

function xorshift64(seed: bigint, n: number): Uint8Array {
  const mask = 0xffffffffffffffffn;
  let x = seed;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= (x << 13n) & mask;
    x ^= x >> 7n;
    x ^= (x << 17n) & mask;
    out[i] = Number(x >> 56n);
  }
  return out;
}
