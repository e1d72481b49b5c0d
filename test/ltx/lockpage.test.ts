/**
 * Snapshots that reach the lock page (§3.4). The smallest such database is 1 GiB (page size 65536,
 * lock page 16385), so pages are generated from one shared buffer and never held at once.
 */
import assert from "node:assert/strict";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { applyLtxToFile } from "../../src/ltx/apply.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { encodeLtx } from "../../src/ltx/encoder.js";
import { lockPgno } from "../../src/ltx/header.js";
import { fixture, header, rep } from "./helpers.js";

const PS = 65536;
const LOCK = lockPgno(PS);

function* pagesUpTo(last: number): Generator<{ pgno: number; data: Uint8Array }> {
  const data = rep(0x5a, PS);
  for (let pgno = 1; pgno <= last; pgno++) if (pgno !== LOCK) yield { pgno, data };
}

describe("lock page in snapshots", () => {
  test("a snapshot crossing the lock page skips it", async () => {
    const { bytes } = encodeLtx(header({ pageSize: PS, commit: LOCK + 1 }), pagesUpTo(LOCK + 1));
    const d = await decodeLtx(bytes);
    assert.equal(d.pages.length, LOCK);
    assert.equal(d.pages.at(-2)?.pgno, LOCK - 1);
    assert.equal(d.pages.at(-1)?.pgno, LOCK + 1);
  });

  test("a snapshot whose commit is the lock page ends just before it", async () => {
    const { bytes } = encodeLtx(header({ pageSize: PS, commit: LOCK }), pagesUpTo(LOCK - 1));
    const d = await decodeLtx(bytes);
    assert.equal(d.pages.length, LOCK - 1);
  });

  test("apply zero-fills the lock page (sparse 1 GiB file)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "walship-lock-"));
    const path = join(dir, "db");
    try {
      const fh = await open(path, "w+");
      await fh.truncate((LOCK + 1) * PS);
      await fh.write(rep(0xee, PS), 0, PS, (LOCK - 1) * PS);
      const r = await applyLtxToFile([fixture("v3-lockpage-ps65536-incremental.ltx")], fh);
      assert.equal(r.size, 16386 * PS);
      assert.equal((await fh.stat()).size, 16386 * PS);
      const buf = new Uint8Array(3 * PS);
      await fh.read(buf, 0, buf.length, (LOCK - 2) * PS);
      assert.deepEqual(buf.subarray(0, PS), rep(0x01, PS));
      assert.deepEqual(buf.subarray(PS, 2 * PS), rep(0, PS));
      assert.deepEqual(buf.subarray(2 * PS), rep(0x02, PS));
      await fh.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
