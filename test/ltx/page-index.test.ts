/** Page index encoding (§4.1) and random access through it (§4.2). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import { decodePageFrame } from "../../src/ltx/frame.js";
import {
  decodePageIndex,
  encodePageIndex,
  putUvarint,
  type ReadRange,
  readPage,
  readPageIndex,
  readUvarint,
  uvarintLength,
} from "../../src/ltx/page-index.js";
import { fixture, header, manifest, rep, sha256 } from "./helpers.js";

function ranged(bytes: Uint8Array): { read: ReadRange; calls: [number, number][] } {
  const calls: [number, number][] = [];
  return {
    calls,
    read: async (offset, length) => {
      calls.push([offset, length]);
      return bytes.slice(offset, offset + length);
    },
  };
}

describe("LEB128 varints", () => {
  test("spec examples", () => {
    const cases: [number, number[]][] = [
      [0, [0x00]],
      [100, [0x64]],
      [136, [0x88, 0x01]],
      [289, [0xa1, 0x02]],
      [16384, [0x80, 0x80, 0x01]],
    ];
    for (const [v, bytes] of cases) {
      const b = new Uint8Array(10);
      const n = putUvarint(b, 0, v);
      assert.deepEqual([...b.subarray(0, n)], bytes);
      assert.equal(uvarintLength(v), bytes.length);
      assert.deepEqual(readUvarint(b, 0, n, 0), [v, n]);
    }
  });

  test("values above 32 bits round-trip; overlong varints are rejected; short input is null", () => {
    for (const v of [2 ** 31, 2 ** 32 + 5, 2 ** 40 - 1, Number.MAX_SAFE_INTEGER]) {
      const b = new Uint8Array(10);
      const n = putUvarint(b, 0, v);
      assert.deepEqual(readUvarint(b, 0, n, 0), [v, n]);
    }
    assert.throws(() => readUvarint(new Uint8Array(11).fill(0xff), 0, 11, 0), /too large/);
    assert.equal(readUvarint(new Uint8Array([0x80, 0x80]), 0, 2, 0), null);
  });
});

describe("page index", () => {
  for (const m of manifest) {
    test(`${m.file}: encodePageIndex reproduces the stored index; random access reads every page`, async () => {
      const bytes = fixture(m.file);
      const entries = m.pages.map((p) => ({ pgno: p.pgno, offset: p.frameOffset, size: p.frameSize }));
      const stored = bytes.subarray(m.pageIndexOffset, bytes.length - 16);
      assert.deepEqual(encodePageIndex(entries), stored);
      assert.deepEqual(decodePageIndex(stored, m.pageIndexOffset), { entries, indexSize: m.pageIndexSize });

      const { read, calls } = ranged(bytes);
      const idx = await readPageIndex(read, bytes.length);
      assert.equal(calls.length, 1, "one ranged read covers small files");
      assert.deepEqual(idx.entries, entries);
      assert.equal(idx.indexOffset, m.pageIndexOffset);
      assert.equal(idx.indexSize, m.pageIndexSize);
      assert.equal(idx.fileChecksum.toString(16).padStart(16, "0"), m.trailer.fileChecksum);
      for (const p of m.pages) {
        const data = await readPage(read, idx.byPgno.get(p.pgno)!, m.header.pageSize);
        assert.equal(sha256(data), p.dataSha256);
      }
    });
  }

  test("an index larger than 32 KiB takes a second read", async () => {
    const pages = [];
    for (let pgno = 1; pgno <= 12000; pgno++) pages.push({ pgno, data: rep(pgno & 0xff, 512) });
    const { bytes, result } = encodeLtx(header({ pageSize: 512, commit: 12000 }), pages);
    const { read, calls } = ranged(bytes);
    const idx = await readPageIndex(read, bytes.length);
    assert.ok(idx.indexSize > 32 * 1024, `index is ${idx.indexSize} bytes`);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0], [bytes.length - 32768, 32768]);
    assert.deepEqual(idx.entries, result.index);
    assert.deepEqual(await readPage(read, idx.byPgno.get(11999)!, 512), rep(11999 & 0xff, 512));
    assert.equal((await decodeLtx(bytes)).pages.length, 12000);
  });

  test("structural errors", async () => {
    const bytes = fixture("v3-l0-nochecksum-sparse.ltx");
    const tooSmall = ranged(bytes.subarray(0, 100));
    await assert.rejects(readPageIndex(tooSmall.read, 100), (e: unknown) =>
      isWalshipError(e, "ltx_truncated"),
    );
    const badSize = bytes.slice();
    new DataView(badSize.buffer).setBigUint64(badSize.length - 24, 1000n);
    await assert.rejects(readPageIndex(ranged(badSize).read, badSize.length), /index size field 1000/);
    const wrongPgno = { pgno: 3, offset: 100, size: 48 };
    await assert.rejects(readPage(ranged(bytes).read, wrongPgno, 4096), /points at a frame for page 2/);
    const short = { pgno: 2, offset: 100, size: 47 };
    await assert.rejects(readPage(ranged(bytes).read, short, 4096), /compressed size 38 does not match/);
    assert.throws(
      () => decodePageIndex(new Uint8Array([2, 100, 48, 1, 100, 48, 0, 0, 0, 0, 0, 0, 0, 0, 7]), 202),
      /ascending/,
    );
  });

  test("decodePageFrame decodes both encodings", () => {
    const block = fixture("v3-snapshot-ps1024-2pages.ltx").subarray(100, 136);
    const f = decodePageFrame(block, 1024, 100);
    assert.equal(f.pgno, 1);
    assert.equal(f.encoding, "lz4-block");
    assert.equal(f.compressedSize, 26);
    assert.deepEqual(f.data, rep(0x32, 1024));
    const legacy = fixture("v3legacy-frame-snapshot-ps1024-2pages.ltx").subarray(151, 202);
    const g = decodePageFrame(legacy, 1024, 151);
    assert.equal(g.pgno, 2);
    assert.equal(g.encoding, "lz4-frame");
    assert.deepEqual(g.data, rep(0x33, 1024));
  });
});
