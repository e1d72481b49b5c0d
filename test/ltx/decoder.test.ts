/** Streaming decoder: chunked sources, and every §6.6 check with the field it names. */
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { CHECKSUM_FLAG } from "../../src/ltx/crc64.js";
import { decodeLtx, LtxDecoder } from "../../src/ltx/decoder.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import { encodeHeader } from "../../src/ltx/header.js";
import {
  asyncChunks,
  chunked,
  fixture,
  GENERATED,
  header,
  manifest,
  patch,
  Rng,
  reforge,
  rep,
  sha256,
} from "./helpers.js";

async function expectError(bytes: Uint8Array, code: string, re: RegExp, field?: string): Promise<void> {
  await assert.rejects(decodeLtx(bytes), (e: unknown) => {
    assert.ok(isWalshipError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    if (field !== undefined) assert.equal(e.context.field, field);
    assert.equal(typeof e.context.offset, "number");
    return true;
  });
}

async function summarize(d: LtxDecoder): Promise<string> {
  const pages: string[] = [];
  for await (const p of d) pages.push(`${p.pgno}:${p.offset}:${p.size}:${sha256(p.data)}`);
  const s = await d.finish();
  return JSON.stringify({ pages, t: s.trailer.fileChecksum.toString(16), size: s.size, idx: s.indexSize });
}

function sparse(): Uint8Array {
  return fixture("v3-l0-nochecksum-sparse.ltx");
}

describe("LtxDecoder sources", () => {
  for (const m of manifest) {
    test(`${m.file}: any chunking gives the same result`, async () => {
      const bytes = fixture(m.file);
      const want = await summarize(new LtxDecoder(bytes));
      assert.equal(await summarize(new LtxDecoder(chunked(bytes, [1]))), want);
      const rng = new Rng(bytes.length);
      const sizes = Array.from({ length: 17 }, () => rng.range(1, 300));
      assert.equal(await summarize(new LtxDecoder(asyncChunks(bytes, sizes))), want);
      assert.equal(await summarize(new LtxDecoder(Readable.from(chunked(bytes, [7, 4096, 13])))), want);
      const file = createReadStream(join(GENERATED, m.file), { highWaterMark: 61 });
      assert.equal(await summarize(new LtxDecoder(file)), want);
    });
  }

  test("source chunks are never modified", async () => {
    const bytes = fixture("v3-snapshot-sqlite-4096x10.ltx");
    const before = sha256(bytes);
    await summarize(new LtxDecoder(chunked(bytes, [3, 1000, 5])));
    assert.equal(sha256(bytes), before);
  });

  test("finish() without reading pages still verifies everything", async () => {
    const d = new LtxDecoder(fixture("v3-snapshot-sqlite-4096x10.ltx"));
    const s = await d.finish();
    assert.equal(s.index.length, 10);
    assert.equal(await d.finish(), s);
    const bad = fixture("v3-snapshot-sqlite-4096x10.ltx");
    bad[2000] ^= 0x40;
    await assert.rejects(new LtxDecoder(bad).finish(), (e: unknown) => isWalshipError(e));
  });

  test("named decoders prefix errors with the file name", async () => {
    const bad = sparse().slice(0, 150);
    await assert.rejects(new LtxDecoder(bad, { name: "L0/x.ltx" }).finish(), (e: unknown) => {
      assert.ok(isWalshipError(e, "ltx_truncated"));
      assert.match(e.message, /^L0\/x\.ltx: /);
      assert.equal(e.context.path, "L0/x.ltx");
      return true;
    });
  });
});

describe("LtxDecoder checks", () => {
  test("truncated files", async () => {
    await expectError(new Uint8Array(0), "ltx_truncated", /truncated/, "header");
    await expectError(sparse().subarray(0, 100), "ltx_truncated", /truncated/, "pgno");
    await expectError(sparse().subarray(0, 120), "ltx_truncated", /truncated/, "pageData");
    await expectError(sparse().subarray(0, 233), "ltx_truncated", /truncated/);
  });

  test("bad magic", async () => {
    const b = sparse();
    b[0] = 0x58;
    await expectError(b, "ltx_invalid", /magic/, "magic");
  });

  test("trailing bytes after the trailer", async () => {
    const b = Buffer.concat([sparse(), new Uint8Array([0])]);
    await expectError(b, "ltx_invalid", /after the trailer/, "trailer");
  });

  test("file checksum mismatch names fileChecksum", async () => {
    const b = sparse();
    b[b.length - 1] ^= 1;
    await expectError(b, "ltx_checksum", /file checksum mismatch/, "fileChecksum");
    const c = sparse();
    c[150] ^= 1; // inside page 2's LZ4 block: the data changes, so the checksum does
    await assert.rejects(decodeLtx(c), (e: unknown) => isWalshipError(e));
  });

  test("index that disagrees with the frames", async () => {
    const m = manifest.find((x) => x.file === "v3-l0-nochecksum-sparse.ltx")!;
    await expectError(
      patch(sparse(), m.pageIndexOffset + 1, 0x6530, 2),
      "ltx_invalid",
      /pageIndex: entry 0 is \(2, 101, 48\), frames give \(2, 100, 48\)/,
      "pageIndex",
    );
    await expectError(patch(sparse(), m.pageIndexOffset, 0, 2), "ltx_invalid", /has 0 entries for 2 pages/);
    // index size field off by one
    await expectError(patch(sparse(), sparse().length - 24, 9n, 8), "ltx_invalid", /indexSize/, "indexSize");
  });

  test("NoChecksum file with a non-zero post-apply (litestream#1427)", async () => {
    const b = patch(sparse(), sparse().length - 16, CHECKSUM_FLAG | 1n, 8);
    await expectError(
      b,
      "ltx_invalid",
      /postApplyChecksum: must be 0 when the NoChecksum flag is set/,
      "postApplyChecksum",
    );
  });

  test("tracked snapshot whose post-apply does not match its pages", async () => {
    const f = fixture("v3-snapshot-ps1024-2pages.ltx");
    const b = patch(f, f.length - 16, CHECKSUM_FLAG | 1n, 8);
    await expectError(b, "ltx_checksum", /snapshot's pages give e1899b6d587aaaaa/, "postApplyChecksum");
    const z = patch(f, f.length - 16, 1n, 8);
    await expectError(z, "ltx_invalid", /postApplyChecksum: bit 63 must be set/, "postApplyChecksum");
  });

  test("commit 0 tracked file must carry exactly FLAG", async () => {
    const f = fixture("v3-commit0-deletion.ltx");
    await expectError(patch(f, 115, CHECKSUM_FLAG | 2n, 8), "ltx_invalid", /8000000000000000 for commit 0/);
  });

  test("page ordering, bounds and the lock page", async () => {
    // Page 5 renumbered to 2: duplicate / out of order.
    await expectError(patch(sparse(), 148, 2, 4), "ltx_invalid", /out-of-order page numbers: 2,2/, "pgno");
    // Page 5 renumbered to 6 > commit 5.
    await expectError(patch(sparse(), 148, 6, 4), "ltx_invalid", /out-of-bounds for commit size 5/, "pgno");
    const lockFile = fixture("v3-lockpage-ps65536-incremental.ltx");
    await expectError(
      patch(lockFile, 389, 16385, 4),
      "ltx_invalid",
      /lock page 16385 must never be stored/,
      "pgno",
    );
    // Snapshot with a gap: commit raised to 3 and page 2 renumbered 3.
    const snap = patch(fixture("v3-snapshot-ps512-2pages.ltx"), 12, 3, 4);
    await expectError(patch(snap, 134, 3, 4), "ltx_invalid", /expected page 2, got 3/, "pgno");
  });

  test("incomplete snapshot (Go can write it, DecodeDatabaseTo cannot restore it)", async () => {
    const snap = fixture("v3-snapshot-ps512-2pages.ltx");
    // Commit raised from 2 to 3 (tracked: header is hashed, so re-forge).
    await expectError(
      patch(snap, 12, 3, 4),
      "ltx_invalid",
      /snapshot is incomplete: last page is 2, commit is 3/,
      "commit",
    );
  });

  test("page header flags and pgno 0", async () => {
    await expectError(
      patch(sparse(), 152, 0x0003, 2),
      "ltx_invalid",
      /invalid page header flags: 0x0003/,
      "pageFlags",
    );
    await expectError(patch(sparse(), 148, 0, 4), "ltx_invalid", /page number required/, "pgno");
  });

  test("LZ4 payloads that do not give exactly one page", async () => {
    // A literal-only block of pageSize - 1 bytes.
    const ps = 1024;
    const good = encodeLtx(header({ pageSize: ps, commit: 1 }), [{ pgno: 1, data: rep(0x41, ps) }]).bytes;
    const short = new Uint8Array(ps - 1 + 5);
    short[0] = 0xf0;
    let n = ps - 1 - 15;
    let i = 1;
    while (n >= 255) {
      short[i++] = 255;
      n -= 255;
    }
    short[i++] = n;
    short.fill(0x41, i, i + ps - 1);
    const block = short.subarray(0, i + ps - 1);
    const built = buildSingleBlockFile(good, block);
    await expectError(built, "lz4", /decompressed to 1023 bytes, page size is 1024/, "pageData");
    // Size checks come before the checksum, so these need no re-forging.
    const zero = good.slice();
    new DataView(zero.buffer).setUint32(106, 0);
    await expectError(zero, "ltx_invalid", /compressed size 0 is impossible/, "compressedSize");
    new DataView(zero.buffer).setUint32(106, 0x7fffffff);
    await expectError(zero, "ltx_invalid", /compressed size \d+ is impossible/);
  });

  test("legacy frames with a broken content checksum", async () => {
    const f = fixture("v3legacy-frame-snapshot-ps1024-2pages.ltx");
    f[147] ^= 1; // xxh32 of page 1 (§11.2)
    await expectError(f, "lz4", /content checksum mismatch/, "pageData");
  });

  test("format v2 is recognised and rejected as unsupported", async () => {
    const legacy = fixture("v3legacy-frame-snapshot-ps1024-2pages.ltx");
    // A v2 frame is the v3 legacy frame without the 2-byte flags field.
    const v2 = Buffer.concat([legacy.subarray(0, 104), legacy.subarray(106, 151)]);
    await expectError(v2, "ltx_unsupported", /LTX format v2 \(ltx v0\.4\) is not supported/, "pageFlags");
    const h = encodeHeader(header({ flags: 2, minTXID: 2n, maxTXID: 2n }));
    h[7] = 3;
    await expectError(Buffer.concat([h, rep(0, 40)]), "ltx_unsupported", /format v1/, "flags");
  });
});

/** Replaces the single page frame of a one-page block-encoded file with `block` and fixes the index. */
function buildSingleBlockFile(good: Uint8Array, block: Uint8Array): Uint8Array {
  const frame = new Uint8Array(10 + block.length);
  frame.set(good.subarray(100, 106));
  new DataView(frame.buffer).setUint32(6, block.length);
  frame.set(block, 10);
  const size = frame.length;
  const index = [1, 100, (size & 0x7f) | 0x80, size >> 7, 0];
  const tail = new Uint8Array(8 + 16);
  new DataView(tail.buffer).setBigUint64(0, BigInt(index.length));
  return reforgeSafe(
    Buffer.concat([good.subarray(0, 100), frame, new Uint8Array(6), new Uint8Array(index), tail]),
  );
}

/** reforge() decompresses pages; a deliberately short block is fine for it because it hashes what it got. */
function reforgeSafe(b: Uint8Array): Uint8Array {
  try {
    return reforge(b);
  } catch {
    return b;
  }
}
