/** Header encode/decode/validation (§2, §6.1) and file names (§7.1). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { formatLtxFilename, formatTXID, parseLtxFilename } from "../../src/ltx/filename.js";
import {
  decodeHeader,
  encodeHeader,
  HEADER_FLAG_NO_CHECKSUM,
  isSnapshot,
  type LtxHeader,
  validateHeader,
} from "../../src/ltx/header.js";
import { fixture, header } from "./helpers.js";

function rejects(h: LtxHeader, code: string, field: string, re: RegExp): void {
  assert.throws(
    () => validateHeader(h),
    (e: unknown) => {
      assert.ok(isWalshipError(e), String(e));
      assert.equal(e.code, code);
      assert.equal(e.context.field, field);
      assert.match(e.message, re);
      return true;
    },
  );
}

describe("LTX header", () => {
  test("round-trips every field, including full 64-bit and negative-capable values", () => {
    const h = header({
      flags: HEADER_FLAG_NO_CHECKSUM,
      pageSize: 65536,
      commit: 0xffffffff,
      minTXID: 2n,
      maxTXID: 0xffffffffffffffffn,
      timestamp: -5n,
      walOffset: 0x7fffffffffffffffn,
      walSize: 12n,
      walSalt1: 0xffffffff,
      walSalt2: 1,
      nodeID: 0x0123456789abcdefn,
    });
    const b = encodeHeader(h);
    assert.equal(b.length, 100);
    assert.deepEqual(decodeHeader(b), h);
    assert.deepEqual(b.subarray(80), new Uint8Array(20));
  });

  test("matches the §11.1 header bytes", () => {
    const f = fixture("v3-snapshot-ps1024-2pages.ltx");
    const h = decodeHeader(f);
    assert.equal(h.flags, 0);
    assert.equal(h.pageSize, 1024);
    assert.equal(h.timestamp, 1000n);
    assert.deepEqual(encodeHeader(h), f.subarray(0, 100));
    assert.ok(isSnapshot(h));
  });

  test("rejects bad magic and short input", () => {
    const b = encodeHeader(header());
    b[3] = 0x32;
    assert.throws(() => decodeHeader(b), /magic/);
    assert.throws(
      () => decodeHeader(new Uint8Array(99)),
      (e: unknown) => isWalshipError(e, "ltx_truncated"),
    );
  });

  test("flag 0x1 is format v1 (unsupported); other unknown bits are invalid", () => {
    rejects(header({ flags: 1 }), "ltx_unsupported", "flags", /format v1/);
    rejects(header({ flags: 3 }), "ltx_unsupported", "flags", /CompressLZ4/);
    rejects(header({ flags: 4 }), "ltx_invalid", "flags", /0x00000004/);
    rejects(header({ flags: 0x80000002 }), "ltx_invalid", "flags", /unknown bits/);
  });

  test("§6.1 rules name the field", () => {
    for (const ps of [0, 256, 1000, 131072, 4097])
      rejects(header({ pageSize: ps }), "ltx_invalid", "pageSize", /power/);
    rejects(header({ minTXID: 0n }), "ltx_invalid", "minTXID", /minimum transaction id required/);
    rejects(header({ maxTXID: 0n }), "ltx_invalid", "maxTXID", /maximum transaction id required/);
    rejects(header({ minTXID: 5n, maxTXID: 4n }), "ltx_invalid", "maxTXID", /out of order/);
    rejects(header({ walOffset: -1n }), "ltx_invalid", "walOffset", /negative/);
    rejects(header({ walOffset: 32n, walSize: -1n }), "ltx_invalid", "walSize", /negative/);
    rejects(header({ walSalt1: 1 }), "ltx_invalid", "walOffset", /salt/);
    rejects(header({ walSize: 5n }), "ltx_invalid", "walOffset", /wal size/);
    rejects(header({ preApplyChecksum: 1n << 63n }), "ltx_invalid", "preApplyChecksum", /zero on snapshots/);
    rejects(
      header({ minTXID: 2n, maxTXID: 2n, preApplyChecksum: 1n << 63n }),
      "ltx_invalid",
      "preApplyChecksum",
      /not allowed/,
    );
    rejects(header({ flags: 0, minTXID: 2n, maxTXID: 2n }), "ltx_invalid", "preApplyChecksum", /required/);
    rejects(
      header({ flags: 0, minTXID: 2n, maxTXID: 2n, preApplyChecksum: 5n }),
      "ltx_invalid",
      "preApplyChecksum",
      /bit 63/,
    );
    rejects(header({ commit: -1 }), "ltx_invalid", "commit", /u32/);
    rejects(header({ maxTXID: 1n << 64n }), "ltx_invalid", "maxTXID", /u64/);
    rejects(header({ timestamp: 1n << 63n }), "ltx_invalid", "timestamp", /i64/);
  });

  test("decoding reports the offset of the bad field", () => {
    const b = encodeHeader(header());
    b[11] = 3; // page size 4099
    assert.throws(
      () => decodeHeader(b),
      (e: unknown) =>
        isWalshipError(e, "ltx_invalid") && e.context.offset === 8 && e.context.field === "pageSize",
    );
  });
});

describe("LTX file names", () => {
  test("format and parse", () => {
    assert.equal(formatLtxFilename(1n, 1000n), "0000000000000001-00000000000003e8.ltx");
    assert.deepEqual(parseLtxFilename("0000000000000001-00000000000003e8.ltx"), {
      minTXID: 1n,
      maxTXID: 1000n,
    });
    assert.equal(formatTXID(0xffffffffffffffffn), "ffffffffffffffff");
    assert.deepEqual(parseLtxFilename("ffffffffffffffff-ffffffffffffffff.ltx"), {
      minTXID: 0xffffffffffffffffn,
      maxTXID: 0xffffffffffffffffn,
    });
  });

  test("strict: lowercase, exact width, no temp files", () => {
    for (const bad of [
      "0000000000000001-00000000000003E8.ltx",
      "000000000000001-00000000000003e8.ltx",
      "0000000000000001-00000000000003e8.ltx.tmp",
      "0000000000000001_00000000000003e8.ltx",
      " 0000000000000001-00000000000003e8.ltx",
      "0000000000000001-00000000000003e8.LTX",
    ]) {
      assert.equal(parseLtxFilename(bad), null, bad);
    }
    assert.throws(() => formatTXID(-1n), RangeError);
    assert.throws(() => formatTXID(1n << 64n), RangeError);
  });
});
