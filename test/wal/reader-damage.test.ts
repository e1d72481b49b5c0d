/**
 * scanWal on damaged or re-signed copies of real SQLite WALs: torn tails, flipped bytes, truncated files,
 * big-endian checksums, and invalid input. Where SQLite can open the damaged copy, its own recovery is the
 * oracle: our page images must equal what SQLite checkpoints from the same bytes.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import {
  encodeWalFrameHeader,
  encodeWalHeader,
  scanWal,
  WAL_MAGIC_BE,
  type WalScan,
  walChecksum,
  walFrameSize,
} from "../../src/wal/index.js";
import {
  applyScans,
  copyDbAndWal,
  createWalDb,
  type FrameInfo,
  insertRows,
  resignWal,
  sqliteImage,
  tempDir,
  validFrames,
  withWalBytes,
} from "../helpers/sqlite.js";

const PAGE = 4096;
const FRAME = walFrameSize(PAGE);
const dir = tempDir();
after(() => dir.cleanup());

/** Shared fixture: a db + WAL copy with 6 transactions, several spanning many frames. */
let files: { db: Uint8Array; wal: Uint8Array };
let frames: FrameInfo[];
let commits: FrameInfo[];
before(() => {
  const { path, db } = createWalDb(dir.path, "damage");
  for (let i = 1; i <= 5; i++) insertRows(db, 4 * i, 3000);
  files = copyDbAndWal(path);
  db.close();
  frames = validFrames(files.wal).frames;
  commits = frames.filter((f) => f.commit !== 0);
});

/**
 * Scan a WAL image and, when the scan covers the whole image (no `from`, no `maxBytes`), check the page
 * images it yields against SQLite's own recovery and checkpoint of that image.
 */
async function scanCopy(wal: Uint8Array, opts: Parameters<typeof scanWal>[1] = {}): Promise<WalScan> {
  return withWalBytes(wal, async (fh, path) => {
    const scan = await scanWal(fh, { path, ...opts });
    if (opts.from === undefined && opts.maxBytes === undefined && scan.commit > 0) {
      assert.deepEqual(await applyScans(files.db, path, [scan]), sqliteImage(files.db, wal));
    }
    return scan;
  });
}

/** The last transaction with at least two frames: [first frame, commit frame]. */
function multiFrameTx(): { first: FrameInfo; commit: FrameInfo; prevEnd: number } {
  const i = commits.length - 1;
  const commit = commits[i]!;
  const prevEnd = commits[i - 1]!.offset + FRAME;
  const first = frames.find((f) => f.offset === prevEnd)!;
  assert.ok(commit.offset - first.offset >= FRAME, "fixture transaction spans several frames");
  return { first, commit, prevEnd };
}

describe("scanWal on damaged WAL copies", () => {
  it("reads the intact copy completely", async () => {
    const scan = await scanCopy(files.wal);
    assert.equal(scan.txCount, 6);
    assert.equal(scan.end, files.wal.length);
    assert.equal(scan.stopReason, "eof");
  });

  it("drops a transaction whose frames stop before its commit frame", async () => {
    const { first, prevEnd } = multiFrameTx();
    const chopped = files.wal.slice(0, first.offset + FRAME);
    const scan = await scanCopy(chopped);
    assert.equal(scan.txCount, 5);
    assert.equal(scan.end, prevEnd);
    assert.equal(scan.stopReason, "eof");
    for (const offset of scan.pages.values()) assert.ok(offset < prevEnd);
  });

  it("drops a transaction whose commit frame is torn, keeping earlier ones", async () => {
    const { commit, prevEnd } = multiFrameTx();
    for (const cut of [commit.offset + 10, commit.offset + 24 + 100, commit.offset + FRAME - 4]) {
      const scan = await scanCopy(files.wal.slice(0, cut));
      assert.equal(scan.txCount, 5, `cut at ${cut}`);
      assert.equal(scan.end, prevEnd);
      assert.equal(scan.stopReason, "eof");
    }
  });

  it("stops before the transaction holding a frame with a bad checksum", async () => {
    const tx3End = commits[2]!.offset + FRAME;
    const victim = frames.find((f) => f.offset > tx3End + FRAME)!; // a non-first frame of transaction 4
    for (const byte of [victim.offset + 24 + 1000, victim.offset + 3, victim.offset + 7]) {
      const damaged = new Uint8Array(files.wal);
      damaged[byte] ^= 0x40;
      const scan = await scanCopy(damaged);
      assert.equal(scan.txCount, 3, `flipped byte ${byte}`);
      assert.equal(scan.end, tx3End);
      assert.equal(scan.stopReason, "checksum-mismatch");
    }
    const badSalt = new Uint8Array(files.wal);
    badSalt[victim.offset + 9] ^= 0x01;
    const scan = await scanCopy(badSalt);
    assert.equal(scan.end, tx3End);
    assert.equal(scan.stopReason, "salt-mismatch");
  });

  it("reports truncation below the resume offset without guessing", async () => {
    const full = await scanCopy(files.wal);
    const cut = files.wal.slice(0, full.end - FRAME - 8);
    const scan = await scanCopy(cut, { from: full.position });
    assert.equal(scan.status, "truncated");
    assert.ok(scan.header !== null);
    assert.deepEqual(scan.position, full.position);
    assert.equal(scan.txCount, 0);
    assert.equal(scan.pages.size, 0);
    const exact = await scanCopy(files.wal, { from: full.position });
    assert.equal(exact.status, "ok");
    assert.equal(exact.txCount, 0);
  });

  it("treats short and all-zero files as empty", async () => {
    for (const wal of [
      new Uint8Array(0),
      files.wal.slice(0, 31),
      new Uint8Array(32),
      new Uint8Array(FRAME),
    ]) {
      const scan = await scanCopy(wal);
      assert.equal(scan.status, "empty");
      assert.equal(scan.header, null);
      assert.equal(scan.txCount, 0);
    }
  });

  it("rejects a damaged header, a misaligned position and a frame for page 0 as wal_invalid", async () => {
    const badHeader = new Uint8Array(files.wal);
    badHeader[4] ^= 0xff;
    await assert.rejects(scanCopy(badHeader), (e: unknown) => {
      assert.ok(isWalshipError(e, "wal_invalid"));
      assert.equal(e.context.field, "version");
      assert.ok(typeof e.context.path === "string");
      return true;
    });
    const full = await scanCopy(files.wal);
    for (const offset of [full.position.offset - 8, 0]) {
      await assert.rejects(scanCopy(files.wal, { from: { ...full.position, offset } }), {
        code: "wal_invalid",
      });
    }

    // A WAL whose only frame is correctly signed but names page 0.
    const fields = { bigEndianChecksums: false, pageSize: 512, checkpointSeq: 0, salt1: 5, salt2: 6 };
    const header = encodeWalHeader(fields);
    const wal = new Uint8Array(32 + walFrameSize(512));
    wal.set(header);
    encodeWalFrameHeader(wal, 32, { pgno: 0, commit: 1, salt1: 5, salt2: 6, checksum1: 0, checksum2: 0 });
    const dv = new DataView(header.buffer);
    let [c1, c2] = walChecksum(wal, 32, 40, false, dv.getUint32(24), dv.getUint32(28));
    [c1, c2] = walChecksum(wal, 56, wal.length, false, c1, c2);
    encodeWalFrameHeader(wal, 32, { pgno: 0, commit: 1, salt1: 5, salt2: 6, checksum1: c1, checksum2: c2 });
    await assert.rejects(
      withWalBytes(wal, (fh) => scanWal(fh)),
      (e: unknown) => isWalshipError(e, "wal_invalid") && e.context.field === "pgno",
    );
    wal[35] = 1; // page 1 instead, re-signed: now a valid one-transaction WAL
    [c1, c2] = walChecksum(wal, 32, 40, false, dv.getUint32(24), dv.getUint32(28));
    [c1, c2] = walChecksum(wal, 56, wal.length, false, c1, c2);
    encodeWalFrameHeader(wal, 32, { pgno: 1, commit: 1, salt1: 5, salt2: 6, checksum1: c1, checksum2: c2 });
    const ok = await withWalBytes(wal, (fh) => scanWal(fh));
    assert.deepEqual([...ok.pages], [[1, 56]]);
  });
});

describe("scanWal with big-endian checksums", () => {
  /** Everything but the checksum-bearing fields, which legitimately differ between byte orders. */
  function comparable(scan: WalScan): unknown {
    const { position, header, ...rest } = scan;
    return {
      ...rest,
      salts: [position.salt1, position.salt2, header?.salt1, header?.salt2],
      offset: position.offset,
      pageSize: header?.pageSize,
      checkpointSeq: header?.checkpointSeq,
    };
  }

  it("re-signing with little-endian words reproduces SQLite's bytes exactly", () => {
    assert.deepEqual(resignWal(files.wal, false), files.wal);
  });

  it("reads a big-endian copy exactly like the little-endian original", async () => {
    const be = resignWal(files.wal, true);
    assert.equal(new DataView(be.buffer).getUint32(0), WAL_MAGIC_BE);
    assert.notDeepEqual(be.subarray(24, 32), files.wal.subarray(24, 32));
    // SQLite accepts either byte order, so its recovery of the BE copy is an independent check of the signing.
    assert.deepEqual(sqliteImage(files.db, be), sqliteImage(files.db, files.wal));

    const le = await scanCopy(files.wal);
    const big = await scanCopy(be);
    assert.equal(big.header?.bigEndianChecksums, true);
    assert.deepEqual(comparable(big), comparable(le));
    assert.notEqual(big.position.checksum1, le.position.checksum1);

    // Resuming mid-file seeds the running checksum in the WAL's own byte order.
    for (const [wal, other] of [
      [be, big],
      [files.wal, le],
    ] as const) {
      const head = await scanCopy(wal, { maxBytes: 1 });
      assert.equal(head.stopReason, "limit");
      const rest = await scanCopy(wal, { from: head.position });
      assert.equal(rest.txCount, other.txCount - 1);
      assert.deepEqual(rest.position, other.position);
    }

    // Damage in the big-endian copy is caught the same way.
    const tx3End = commits[2]!.offset + FRAME;
    const damaged = new Uint8Array(be);
    damaged[tx3End + 24 + 77] ^= 0x10;
    const scan = await scanCopy(damaged);
    assert.equal(scan.end, tx3End);
    assert.equal(scan.stopReason, "checksum-mismatch");
  });

  it("finds no valid frame when the magic claims the wrong byte order", async () => {
    const be = resignWal(files.wal, true);
    // Header signed little-endian again, frames still signed big-endian.
    const mixed = new Uint8Array(be);
    mixed.set(files.wal.subarray(0, 32));
    const scan = await scanCopy(mixed);
    assert.equal(scan.status, "ok");
    assert.equal(scan.txCount, 0);
    assert.equal(scan.stopReason, "checksum-mismatch");
  });
});
