/** Every test vector decodes to its manifest values; re-encoding reproduces the Go encoder's bytes. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { pageChecksum } from "../../src/ltx/crc64.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import { encodeHeader, isChecksumTracked } from "../../src/ltx/header.js";
import { fixture, hex16, LITESTREAM_V1, manifest, sha256 } from "./helpers.js";

describe("LTX test vectors", () => {
  test("the manifest lists all 18 generated files", () => {
    assert.equal(manifest.length, 18);
  });

  for (const m of manifest) {
    test(`${m.file} decodes to the manifest values`, async () => {
      const bytes = fixture(m.file);
      assert.equal(bytes.length, m.size);
      assert.equal(sha256(bytes), m.sha256);
      const d = await decodeLtx(bytes);
      const h = d.header;
      const { magic, ...expected } = m.header;
      assert.equal(magic, "LTX1");
      assert.deepEqual(
        {
          flags: h.flags,
          pageSize: h.pageSize,
          commit: h.commit,
          minTXID: hex16(h.minTXID),
          maxTXID: hex16(h.maxTXID),
          timestamp: Number(h.timestamp),
          preApplyChecksum: hex16(h.preApplyChecksum),
          walOffset: Number(h.walOffset),
          walSize: Number(h.walSize),
          walSalt1: h.walSalt1,
          walSalt2: h.walSalt2,
          nodeID: hex16(h.nodeID),
        },
        expected,
      );
      assert.equal(d.pages.length, m.pages.length);
      d.pages.forEach((p, i) => {
        const e = m.pages[i];
        assert.equal(p.pgno, e.pgno);
        assert.equal(p.offset, e.frameOffset);
        assert.equal(p.size, e.frameSize);
        assert.equal(p.encoding, e.pageFlags === 1 ? "lz4-block" : "lz4-frame");
        assert.equal(p.compressedSize, e.compressedSize);
        assert.equal(p.data.length, h.pageSize);
        assert.equal(hex16(pageChecksum(p.pgno, p.data)), e.pageChecksum);
        assert.equal(sha256(p.data), e.dataSha256);
      });
      assert.deepEqual(
        d.index,
        m.pages.map((e) => ({ pgno: e.pgno, offset: e.frameOffset, size: e.frameSize })),
      );
      assert.equal(d.endMarkerOffset, m.zeroPageHeaderOffset);
      assert.equal(d.indexOffset, m.pageIndexOffset);
      assert.equal(d.indexSize, m.pageIndexSize);
      assert.equal(hex16(d.trailer.postApplyChecksum), m.trailer.postApplyChecksum);
      assert.equal(hex16(d.trailer.fileChecksum), m.trailer.fileChecksum);
      assert.equal(d.size, m.size);
    });

    test(`${m.file} re-encodes to an equivalent file`, async () => {
      const orig = fixture(m.file);
      const d = await decodeLtx(orig);
      const legacy = d.pages[0]?.encoding === "lz4-frame";
      const tracked = isChecksumTracked(d.header);
      // Tracked incrementals need the caller's post-apply; snapshots and NoChecksum files compute their own.
      const post = tracked && d.header.minTXID !== 1n ? d.trailer.postApplyChecksum : undefined;
      const { bytes, result } = encodeLtx(d.header, d.pages, {
        legacyFrames: legacy,
        postApplyChecksum: post,
      });
      assert.deepEqual(bytes.subarray(0, 100), orig.subarray(0, 100));
      assert.deepEqual(encodeHeader(d.header), orig.subarray(0, 100));
      assert.equal(hex16(result.postApplyChecksum), m.trailer.postApplyChecksum);
      const again = await decodeLtx(bytes);
      assert.equal(again.trailer.fileChecksum, result.fileChecksum);
      assert.deepEqual(
        again.pages.map((p) => [p.pgno, sha256(p.data)]),
        m.pages.map((p) => [p.pgno, p.dataSha256]),
      );
      // Our compressor mirrors pierrec/lz4, so files written by Go come back byte for byte.
      if (m.file.startsWith("v3")) {
        assert.equal(sha256(bytes), m.sha256, "re-encoded Go file differs");
      }
    });
  }

  test("the Litestream v1 file is rejected as unsupported", async () => {
    const bytes = new Uint8Array(readFileSync(LITESTREAM_V1));
    await assert.rejects(decodeLtx(bytes), (e: unknown) => {
      assert.ok(isWalshipError(e, "ltx_unsupported"), String(e));
      assert.match(e.message, /LTX format v1 \(ltx <= v0\.3\) is not supported/);
      assert.equal(e.context.offset, 100);
      return true;
    });
  });
});
