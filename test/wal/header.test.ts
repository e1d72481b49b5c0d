import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import {
  encodeWalHeader,
  parseWalFrameHeader,
  parseWalHeader,
  WAL_HEADER_SIZE,
  WAL_MAGIC_BE,
  WAL_MAGIC_LE,
  walChecksum,
  walChecksumUpdate,
  walFrameSize,
} from "../../src/wal/index.js";
import { insertRows, openWalDb, tempDir } from "../helpers/sqlite.js";

/** Straightforward reference implementation with BigInt, to check the fast one against. */
function referenceChecksum(data: Uint8Array, bigEndian: boolean, s0 = 0n, s1 = 0n): [number, number] {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const mask = 0xffffffffn;
  for (let i = 0; i < data.length; i += 8) {
    s0 = (s0 + BigInt(dv.getUint32(i, !bigEndian)) + s1) & mask;
    s1 = (s1 + BigInt(dv.getUint32(i + 4, !bigEndian)) + s0) & mask;
  }
  return [Number(s0), Number(s1)];
}

function expectInvalid(buf: Uint8Array, field: string): void {
  assert.throws(
    () => parseWalHeader(buf),
    (e: unknown) => {
      assert.ok(isWalshipError(e, "wal_invalid"), `expected wal_invalid, got ${String(e)}`);
      assert.equal(e.context.field, field);
      assert.match(e.message, new RegExp(field));
      return true;
    },
  );
}

const dir = tempDir();
after(() => dir.cleanup());

let dbCount = 0;

/** A real header written by SQLite (little-endian words on x86 and ARM), from a fresh database each call. */
function realWalHeader(): Uint8Array {
  const path = join(dir.path, `h${dbCount++}.db`);
  const db = openWalDb(path);
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  insertRows(db, 3, 100);
  const wal = new Uint8Array(readFileSync(`${path}-wal`));
  db.close();
  return wal.subarray(0, WAL_HEADER_SIZE);
}

describe("walChecksum", () => {
  it("matches a BigInt reference in both byte orders, aligned and unaligned", () => {
    const data = new Uint8Array(randomBytes(4096 + 8));
    for (const bigEndian of [false, true]) {
      const expected = referenceChecksum(data.subarray(0, 4096), bigEndian);
      assert.deepEqual(walChecksum(data, 0, 4096, bigEndian), expected);
      // Same bytes at an odd address exercises the DataView path.
      const shifted = new Uint8Array(data.length + 1);
      shifted.set(data, 1);
      assert.deepEqual(walChecksum(shifted, 1, 4097, bigEndian), expected);
      assert.deepEqual(walChecksum(shifted.subarray(1), 0, 4096, bigEndian), expected);
    }
    assert.notDeepEqual(walChecksum(data, 0, 4096, false), walChecksum(data, 0, 4096, true));
  });

  it("continues from a seed exactly like one pass over the concatenation", () => {
    const data = new Uint8Array(randomBytes(1024));
    const state = { s0: 0, s1: 0 };
    walChecksumUpdate(state, data, 0, 504, false);
    walChecksumUpdate(state, data, 504, 1024, false);
    assert.deepEqual([state.s0, state.s1], walChecksum(data, 0, 1024, false));
    const [a, b] = walChecksum(data, 0, 504, true);
    assert.deepEqual(walChecksum(data, 504, 1024, true, a, b), referenceChecksum(data, true));
  });

  it("rejects ranges that are not a multiple of 8 bytes", () => {
    assert.throws(() => walChecksum(new Uint8Array(16), 0, 12, false), RangeError);
    assert.throws(() => walChecksum(new Uint8Array(16), 8, 24, false), RangeError);
  });
});

describe("parseWalHeader", () => {
  it("parses a header SQLite wrote", () => {
    const real = realWalHeader();
    const h = parseWalHeader(real);
    assert.equal(h.magic, WAL_MAGIC_LE, "SQLite writes native (little-endian) words on this machine");
    assert.equal(h.bigEndianChecksums, false);
    assert.equal(h.version, 3007000);
    assert.equal(h.pageSize, 4096);
    assert.equal(h.checkpointSeq, 0);
    assert.deepEqual(walChecksum(real, 0, 24, false), [h.checksum1, h.checksum2]);
  });

  it("round-trips through encodeWalHeader in both byte orders", () => {
    const real = realWalHeader();
    const h = parseWalHeader(real);
    assert.deepEqual(encodeWalHeader(h), real);
    const be = parseWalHeader(encodeWalHeader({ ...h, bigEndianChecksums: true }));
    assert.equal(be.magic, WAL_MAGIC_BE);
    assert.equal(be.bigEndianChecksums, true);
    assert.deepEqual([be.salt1, be.salt2, be.pageSize], [h.salt1, h.salt2, h.pageSize]);
    assert.notDeepEqual([be.checksum1, be.checksum2], [h.checksum1, h.checksum2]);
  });

  it("accepts every power-of-two page size from 512 to 65536", () => {
    for (let size = 512; size <= 65536; size *= 2) {
      const fields = { bigEndianChecksums: false, pageSize: size, checkpointSeq: 7, salt1: 1, salt2: 2 };
      assert.equal(parseWalHeader(encodeWalHeader(fields)).pageSize, size);
      assert.equal(walFrameSize(size), size + 24);
    }
  });

  it("names the bad field: magic, version, pageSize, checksum, length", () => {
    const good = { bigEndianChecksums: false, pageSize: 4096, checkpointSeq: 0, salt1: 9, salt2: 10 };
    const badMagic = encodeWalHeader(good);
    new DataView(badMagic.buffer).setUint32(0, 0x377f0684);
    expectInvalid(badMagic, "magic");
    expectInvalid(new Uint8Array(32), "magic");
    expectInvalid(encodeWalHeader({ ...good, version: 3007001 }), "version");
    for (const pageSize of [0, 256, 1000, 4097, 131072]) {
      expectInvalid(encodeWalHeader({ ...good, pageSize }), "pageSize");
    }
    const real = realWalHeader();
    for (const byte of [12, 16, 23, 24, 31]) {
      const damaged = new Uint8Array(real);
      damaged[byte] ^= 0x01;
      expectInvalid(damaged, "checksum");
    }
    // A big-endian magic on a header signed with little-endian words must fail the checksum.
    const flipped = new Uint8Array(real);
    new DataView(flipped.buffer).setUint32(0, WAL_MAGIC_BE);
    expectInvalid(flipped, "checksum");
    expectInvalid(real.subarray(0, 31), "length");
  });
});

describe("parseWalFrameHeader", () => {
  it("decodes the first frame SQLite wrote", () => {
    const path = join(dir.path, "f.db");
    const db = openWalDb(path);
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
    const wal = new Uint8Array(readFileSync(`${path}-wal`));
    db.close();
    const h = parseWalHeader(wal);
    const f = parseWalFrameHeader(wal, WAL_HEADER_SIZE);
    assert.equal(f.pgno, 1, "CREATE TABLE rewrites the schema page first");
    const last = parseWalFrameHeader(wal, wal.length - walFrameSize(h.pageSize));
    assert.equal(last.commit, 2, "the commit frame records the database size: schema page + table root");
    assert.deepEqual([f.salt1, f.salt2], [h.salt1, h.salt2]);
  });
});
