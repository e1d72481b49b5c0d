/** Encoder rules (§3.3, §4.3, §6.3) and its output shape (§10.1). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { CHECKSUM_FLAG } from "../../src/ltx/crc64.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { encodeLtx, LtxEncoder } from "../../src/ltx/encoder.js";
import { fixture, header, hex16, rep } from "./helpers.js";

function started(over: Parameters<typeof header>[0] = {}, legacyFrames = false): LtxEncoder {
  const e = new LtxEncoder(header(over), { legacyFrames });
  e.header();
  return e;
}

function invalid(fn: () => unknown, re: RegExp, code = "ltx_invalid"): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isWalshipError(e), String(e));
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return true;
  });
}

describe("LtxEncoder rejects", () => {
  test("out-of-order pages in incremental files", () => {
    const e = started({ minTXID: 2n, maxTXID: 2n, commit: 10 });
    e.encodePage(5, rep(1, 4096));
    invalid(() => e.encodePage(5, rep(1, 4096)), /out-of-order page numbers: 5,5/);
    invalid(() => e.encodePage(3, rep(1, 4096)), /out-of-order page numbers: 5,3/);
    e.encodePage(7, rep(1, 4096));
  });

  test("non-contiguous snapshot pages", () => {
    const e = started({ commit: 3 });
    invalid(() => e.encodePage(2, rep(1, 4096)), /expected page 1, got 2/);
    e.encodePage(1, rep(1, 4096));
    invalid(() => e.encodePage(3, rep(1, 4096)), /expected page 2, got 3/);
  });

  test("the lock page, in snapshots and incrementals", () => {
    const inc = started({ pageSize: 65536, minTXID: 2n, maxTXID: 2n, commit: 16386 });
    invalid(() => inc.encodePage(16385, rep(1, 65536)), /lock page 16385 must never be stored/);
    inc.encodePage(16386, rep(1, 65536));
  });

  test("pgno > commit, pgno 0 and wrong data length", () => {
    const e = started({ minTXID: 2n, maxTXID: 2n, commit: 2 });
    invalid(() => e.encodePage(3, rep(1, 4096)), /out-of-bounds for commit size 2/);
    invalid(() => e.encodePage(0, rep(1, 4096)), /not a valid pgno/);
    invalid(() => e.encodePage(1, rep(1, 4095)), /4095 bytes, page size is 4096/);
    invalid(() => e.encodePage(1, rep(1, 8192)), /8192 bytes/);
    const z = started({ minTXID: 2n, maxTXID: 2n, commit: 0 });
    invalid(() => z.encodePage(1, rep(1, 4096)), /out-of-bounds for commit size 0/);
  });

  test("an incomplete snapshot", () => {
    const e = started({ commit: 3 });
    e.encodePage(1, rep(1, 4096));
    e.encodePage(2, rep(1, 4096));
    invalid(() => e.finish(), /snapshot is incomplete: last page is 2, commit is 3/);
    invalid(() => started({ commit: 1 }).finish(), /last page is 0, commit is 1/);
  });

  test("a non-zero post-apply checksum under NoChecksum", () => {
    const e = started({ minTXID: 2n, maxTXID: 2n, commit: 1 });
    invalid(() => e.finish(CHECKSUM_FLAG | 5n), /not allowed when the NoChecksum flag is set/);
    assert.equal(e.finish(0n).postApplyChecksum, 0n);
  });

  test("tracked incrementals without (or with a malformed) post-apply", () => {
    const h = { flags: 0, minTXID: 2n, maxTXID: 2n, commit: 1, preApplyChecksum: CHECKSUM_FLAG | 1n };
    invalid(() => started(h).finish(), /required to finish/);
    invalid(() => started(h).finish(5n), /bit 63 must be set/);
    assert.equal(started(h).finish(CHECKSUM_FLAG | 9n).postApplyChecksum, CHECKSUM_FLAG | 9n);
  });

  test("a tracked snapshot whose supplied post-apply disagrees with its pages", () => {
    const e = started({ flags: 0, commit: 1 });
    e.encodePage(1, rep(1, 4096));
    invalid(() => e.finish(CHECKSUM_FLAG | 1n), /snapshot's pages give/, "ltx_checksum");
  });

  test("commit 0: FLAG when tracked, anything else refused", () => {
    const h = { flags: 0, minTXID: 5n, maxTXID: 6n, commit: 0, preApplyChecksum: CHECKSUM_FLAG | 5n };
    assert.equal(started(h).finish().postApplyChecksum, CHECKSUM_FLAG);
    invalid(() => started(h).finish(CHECKSUM_FLAG | 1n), /must be 8000000000000000 for commit 0/);
    // Go cannot encode a NoChecksum commit-0 file (§5.4); we can, with post-apply 0.
    assert.equal(started({ minTXID: 5n, maxTXID: 6n, commit: 0 }).finish().postApplyChecksum, 0n);
  });

  test("invalid headers and misuse of the call order", () => {
    invalid(() => new LtxEncoder(header({ pageSize: 1000 })), /pageSize/);
    invalid(() => new LtxEncoder(header({ flags: 1 })), /format v1/, "ltx_unsupported");
    const e = new LtxEncoder(header({ commit: 1 }));
    assert.throws(() => e.encodePage(1, rep(1, 4096)), /before header/);
    e.header();
    e.encodePage(1, rep(1, 4096));
    e.finish();
    assert.throws(() => e.encodePage(2, rep(1, 4096)), /after finish/);
    assert.throws(() => e.finish(), /after finish/);
  });
});

describe("LtxEncoder output", () => {
  test("reproduces §11.1 byte for byte", () => {
    const { bytes, result } = encodeLtx(header({ flags: 0, pageSize: 1024, commit: 2 }), [
      { pgno: 1, data: rep(0x32, 1024) },
      { pgno: 2, data: rep(0x33, 1024) },
    ]);
    assert.deepEqual(bytes, fixture("v3-snapshot-ps1024-2pages.ltx"));
    assert.equal(hex16(result.postApplyChecksum), "e1899b6d587aaaaa");
    assert.equal(hex16(result.fileChecksum), "f86fcff36247df82");
    assert.deepEqual(result.index, [
      { pgno: 1, offset: 100, size: 36 },
      { pgno: 2, offset: 136, size: 36 },
    ]);
    assert.equal(result.size, 210);
  });

  test("legacy frames reproduce the ltx v0.5.1 twin (§11.2)", () => {
    const { bytes } = encodeLtx(
      header({ flags: 0, pageSize: 1024, commit: 2 }),
      [
        { pgno: 1, data: rep(0x32, 1024) },
        { pgno: 2, data: rep(0x33, 1024) },
      ],
      { legacyFrames: true },
    );
    assert.deepEqual(bytes, fixture("v3legacy-frame-snapshot-ps1024-2pages.ltx"));
  });

  test("encodePage does not keep the caller's buffer", async () => {
    const e = new LtxEncoder(header({ commit: 2 }));
    const parts = [e.header()];
    const buf = rep(7, 4096);
    parts.push(e.encodePage(1, buf));
    buf.fill(9);
    parts.push(e.encodePage(2, buf));
    parts.push(e.finish().bytes);
    const d = await decodeLtx(Buffer.concat(parts));
    assert.deepEqual(d.pages[0].data, rep(7, 4096));
    assert.deepEqual(d.pages[1].data, rep(9, 4096));
  });
});
