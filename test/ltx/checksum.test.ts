/** Database checksum constants of spec §5.6, incremental maintenance, and applying a tracked file. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { applyToBuffer } from "../../src/ltx/apply.js";
import {
  CHECKSUM_FLAG,
  DatabaseChecksum,
  databaseChecksum,
  databaseImageChecksum,
  EMPTY_DATABASE_CHECKSUM,
  formatChecksum,
  pageChecksum,
} from "../../src/ltx/checksum.js";
import { lockPgno } from "../../src/ltx/header.js";
import { fixture, GENERATED, hex16, LITESTREAM_DB, Rng, rep, sha256 } from "./helpers.js";

function pages(...datas: Uint8Array[]): { pgno: number; data: Uint8Array }[] {
  return datas.map((data, i) => ({ pgno: i + 1, data }));
}

describe("database checksum (§5.6)", () => {
  const cases: [string, number, Uint8Array[], string][] = [
    ["512×01, 512×02, 512×03", 512, [rep(1, 512), rep(2, 512), rep(3, 512)], "efffffffecd99000"],
    ["1024×'2', 1024×'3'", 1024, [rep(0x32, 1024), rep(0x33, 1024)], "e1899b6d587aaaaa"],
    ["512×'2', 512×'3'", 512, [rep(0x32, 512), rep(0x33, 512)], "8b87423eeeeeeeee"],
    ["one page of 512×'1'", 512, [rep(0x31, 512)], "eb1a999231044ddd"],
    [
      "1024×81, 1024×82, 1024×83",
      1024,
      [rep(0x81, 1024), rep(0x82, 1024), rep(0x83, 1024)],
      "8a249272ad9f7dea",
    ],
  ];
  for (const [name, ps, datas, want] of cases) {
    test(`DB = ${name} → ${want}`, () => {
      assert.equal(formatChecksum(databaseChecksum(pages(...datas), ps)), want);
      const image = new Uint8Array(datas.length * ps);
      for (const [i, d] of datas.entries()) image.set(d, i * ps);
      assert.equal(formatChecksum(databaseImageChecksum(image, ps)), want);
    });
  }

  test("page checksums", () => {
    assert.equal(hex16(pageChecksum(1, rep(0x32, 1024))), "e0d53ff6f3d08215");
    assert.equal(hex16(pageChecksum(2, rep(0x33, 1024))), "815ca49babaa28bf");
    assert.equal(hex16(pageChecksum(1, rep(1, 512))), "e4e4aaa102377eee");
    assert.equal(hex16(pageChecksum(2, rep(2, 512))), "c9c9554231044ddd");
    assert.equal(hex16(pageChecksum(3, rep(3, 512))), "c2d2001cdfeaa333");
  });

  test("Litestream's 10-page database → fe3831a381c602b9", () => {
    const db = new Uint8Array(readFileSync(LITESTREAM_DB));
    assert.equal(hex16(databaseImageChecksum(db, 4096)), "fe3831a381c602b9");
  });

  test("empty database is FLAG", () => {
    assert.equal(EMPTY_DATABASE_CHECKSUM, CHECKSUM_FLAG);
    assert.equal(databaseChecksum([], 4096), CHECKSUM_FLAG);
    assert.equal(databaseImageChecksum(new Uint8Array(0), 4096), CHECKSUM_FLAG);
    assert.equal(new DatabaseChecksum(4096).value, CHECKSUM_FLAG);
  });

  test("page size 4096, commit 262155 of 'x' pages, lock page 262145 excluded → c19b668c376662c7", () => {
    assert.equal(lockPgno(4096), 262145);
    const page = rep(0x78, 4096);
    // Generated lazily: a 1 GiB image is not needed, only one page checksum per pgno.
    function* all(): Generator<{ pgno: number; data: Uint8Array }> {
      for (let pgno = 1; pgno <= 262155; pgno++) yield { pgno, data: page };
    }
    assert.equal(hex16(databaseChecksum(all(), 4096)), "c19b668c376662c7");
  });

  test("lock page table (§3.4)", () => {
    const want: Record<number, number> = {
      512: 2097153,
      1024: 1048577,
      2048: 524289,
      4096: 262145,
      8192: 131073,
      16384: 65537,
      32768: 32769,
      65536: 16385,
    };
    for (const [ps, lock] of Object.entries(want)) assert.equal(lockPgno(Number(ps)), lock);
  });
});

describe("DatabaseChecksum (incremental maintenance)", () => {
  test("updates, rewrites and truncation track a from-scratch recomputation", () => {
    const rng = new Rng(7);
    const ps = 512;
    const sum = new DatabaseChecksum(ps);
    let image = new Uint8Array(0);
    for (let step = 0; step < 200; step++) {
      if (rng.bool(0.15)) {
        const commit = rng.int(image.length / ps + 1);
        sum.truncate(commit);
        image = image.slice(0, commit * ps);
      } else {
        const pgno = rng.range(1, image.length / ps + 1);
        const data = rng.bytes(ps);
        sum.update(pgno, data);
        if (pgno * ps > image.length) {
          const grown = new Uint8Array(pgno * ps);
          grown.set(image);
          image = grown;
        }
        image.set(data, (pgno - 1) * ps);
      }
      assert.equal(sum.commit, image.length / ps);
      assert.equal(sum.value, databaseImageChecksum(image, ps));
    }
  });

  test("the lock page never contributes", () => {
    const sum = new DatabaseChecksum(65536);
    sum.update(16384, rep(1, 65536));
    const before = sum.value;
    sum.update(16385, rep(9, 65536));
    assert.equal(sum.value, before);
    assert.equal(sum.commit, 16385);
  });

  test("applying v3-incremental-checksum.ltx onto `database` gives the recorded image", async () => {
    const base = new Uint8Array(readFileSync(LITESTREAM_DB));
    const want = readFileSync(`${GENERATED}/db-after-incremental.bin.sha256`, "utf8").trim().split(/\s+/)[0];
    const r = await applyToBuffer([fixture("v3-incremental-checksum.ltx")], base, { verifyChecksums: true });
    assert.equal(r.image.length, 45056);
    assert.equal(sha256(r.image), want);
    assert.equal(hex16(r.postApplyChecksum), "9daf72f77794c463");
    assert.equal(hex16(databaseImageChecksum(r.image, 4096)), "9daf72f77794c463");
  });

  test("a base database that does not match the pre-apply checksum is refused", async () => {
    const base = new Uint8Array(readFileSync(LITESTREAM_DB));
    base[5000] ^= 1;
    await assert.rejects(
      applyToBuffer([fixture("v3-incremental-checksum.ltx")], base, { verifyChecksums: true }),
      /preApplyChecksum: file expects fe3831a381c602b9/,
    );
  });
});
