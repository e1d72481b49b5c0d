/**
 * Incremental reader for a live `-wal` file (Litestream v0.5 `wal_reader.go` semantics, spec §2.3).
 *
 * The reader never trusts file size: the valid WAL ends at the first frame whose salts or running checksum
 * do not match, and only frames up to the last commit frame before that point are reported. Everything after
 * is an open transaction (whose frames SQLite may still rewrite in place), a torn write, or a stale frame
 * from an older WAL generation.
 *
 * Memory stays proportional to the number of distinct pages: frames are streamed through one reusable chunk
 * buffer and only page-number -> file-offset maps are kept; page bytes are fetched later with `readPage`.
 */

import type { FileHandle } from "node:fs/promises";
import { fsError, WalshipError } from "../errors.js";
import { type WalChecksumState, walFrameChecksumUpdate } from "./checksum.js";
import {
  parseWalHeader,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  type WalHeader,
  walFrameSize,
} from "./header.js";

/** Where to resume reading: a frame boundary plus what is needed to validate the frame found there. */
export interface WalPosition {
  /** Byte offset of the next frame to read. */
  offset: number;
  /** Salts of the WAL generation `offset` belongs to; a header with other salts means the WAL restarted. */
  salt1: number;
  salt2: number;
  /** Running checksum after the frame before `offset` (the header checksum when offset == 32). */
  checksum1: number;
  checksum2: number;
}

export type WalScanStatus = "ok" | "restarted" | "truncated" | "empty";
export type WalStopReason = "eof" | "salt-mismatch" | "checksum-mismatch" | "limit";

interface WalScanResult {
  /** Offset where frames were read from: `from.offset`, or 32 when starting fresh or after a restart. */
  start: number;
  /** Byte offset just past the last commit frame read (== start if none). */
  end: number;
  /** Database size in pages from the last commit frame (0 if none). */
  commit: number;
  /**
   * pgno -> offset of the page data (frame offset + 24) of the latest committed frame for that page within
   * [start, end). Pages numbered above `commit` are dropped (the database shrank, e.g. VACUUM).
   */
  pages: Map<number, number>;
  /** Number of commit frames (SQLite transactions) in [start, end). */
  txCount: number;
  /** Resume point for the next scan: offset = end, checksum = running checksum after the last commit frame. */
  position: WalPosition;
  /**
   * Why reading stopped after the last valid frame. "limit": maxBytes reached at a commit boundary; more
   * committed frames may follow. The others describe the first frame that was not read: end of file (or a
   * partial frame), a frame from another WAL generation, or a torn/garbage frame.
   */
  stopReason: WalStopReason;
}

/**
 * Result of `scanWal`. `header` is null exactly when `status` is "empty", so checking the status narrows it.
 * - ok: frames read from `from` (or from 32 when no position was given).
 * - restarted: the header's salts differ from `from`'s; the WAL was restarted and frames were read from 32.
 *   Frames between `from` and the old generation's end may have been lost: deciding that is the caller's job.
 * - truncated: the file is shorter than `from.offset` with the same salts. Nothing is read or guessed.
 * - empty: the file is shorter than a header or the header is all zeros (e.g. after a TRUNCATE checkpoint).
 * For truncated and empty scans, `position` is `from` unchanged (or a fresh position if none was given).
 */
export type WalScan =
  | (WalScanResult & { status: "ok" | "restarted" | "truncated"; header: WalHeader })
  | (WalScanResult & { status: "empty"; header: null });

export interface ScanWalOptions {
  /** Resume from this position (a previous scan's `position`). Omitted: read the whole WAL from 32. */
  from?: WalPosition;
  /** Stop at the first commit boundary at or after this many bytes past `start` (stopReason "limit"). */
  maxBytes?: number;
  /** Largest read in bytes, rounded down to whole frames (at least one); reads grow to it. Default 1 MiB. */
  chunkSize?: number;
  /** File path, only used in error context. */
  path?: string;
}

const DEFAULT_CHUNK_SIZE = 1 << 20;
/** First read of a scan (bytes): a second of a busy database's commits takes one or two reads. */
const FIRST_CHUNK_SIZE = 64 * 1024;

/** Position of a WAL that has no header yet; any real header will look like a restart against it. */
const FRESH_POSITION: WalPosition = {
  offset: WAL_HEADER_SIZE,
  salt1: 0,
  salt2: 0,
  checksum1: 0,
  checksum2: 0,
};

export async function scanWal(fh: FileHandle, opts: ScanWalOptions = {}): Promise<WalScan> {
  const { from, path } = opts;
  if (from !== undefined && (!Number.isSafeInteger(from.offset) || from.offset < WAL_HEADER_SIZE)) {
    throw positionError(`offset ${from.offset} is before the first frame`, from, path);
  }
  const size = await stat(fh, path);
  const headerBuf = new Uint8Array(WAL_HEADER_SIZE);
  const got = size >= WAL_HEADER_SIZE ? await readFully(fh, headerBuf, 0, path) : 0;
  if (got < WAL_HEADER_SIZE || headerBuf.every((b) => b === 0)) {
    const position = from ?? FRESH_POSITION;
    return { status: "empty", header: null, ...nothingRead(position) };
  }
  const header = withPath(() => parseWalHeader(headerBuf), path);
  const frameSize = walFrameSize(header.pageSize);

  let status: "ok" | "restarted";
  let start = WAL_HEADER_SIZE;
  const state: WalChecksumState = { s0: header.checksum1, s1: header.checksum2 };
  if (from === undefined) {
    status = "ok";
  } else if (from.salt1 !== header.salt1 || from.salt2 !== header.salt2) {
    // Salts, not size, identify a generation: a restarted WAL usually keeps its old length.
    status = "restarted";
  } else if (size < from.offset) {
    return { status: "truncated", header, ...nothingRead(from) };
  } else {
    if ((from.offset - WAL_HEADER_SIZE) % frameSize !== 0) {
      throw positionError(
        `offset ${from.offset} is not a frame boundary for page size ${header.pageSize}`,
        from,
        path,
      );
    }
    status = "ok";
    start = from.offset;
    // At 32 the header's own checksum is the seed by definition, so a position built without one still works.
    if (start > WAL_HEADER_SIZE) {
      state.s0 = from.checksum1;
      state.s1 = from.checksum2;
    }
  }

  // The first chunk is small and each full one doubles the next, up to the chunk size: a capture reads a
  // second's frames, tens of KiB, and a full 1 MiB buffer per scan (one scan per database per second)
  // meant 1 GiB/s of zeroed allocations at 1000 databases. The file size is only an upper bound: after a
  // WAL restart the file keeps its old length while the valid frames end far sooner.
  const maxFrames = Math.max(1, Math.floor((opts.chunkSize ?? DEFAULT_CHUNK_SIZE) / frameSize));
  const pendingFrames = Math.ceil(Math.max(0, size - start) / frameSize);
  let framesPerChunk = Math.max(
    1,
    Math.min(maxFrames, Math.floor(FIRST_CHUNK_SIZE / frameSize), pendingFrames),
  );
  // A fresh ArrayBuffer is 8-byte aligned and frames are multiples of 8 bytes, so the checksum can read
  // native words directly from every frame in the chunk.
  let buf = new Uint8Array(framesPerChunk * frameSize);
  let dv = new DataView(buf.buffer);
  const { pageSize, salt1, salt2, bigEndianChecksums } = header;
  const maxBytes = opts.maxBytes;

  const pages = new Map<number, number>();
  // Pages of the transaction being read; promoted to `pages` only when its commit frame validates.
  const pending = new Map<number, number>();
  let end = start;
  let commit = 0;
  let txCount = 0;
  let endChecksum1 = state.s0;
  let endChecksum2 = state.s1;
  let stopReason: WalStopReason = "eof";
  let chunkOffset = start;

  scan: for (;;) {
    const n = await readFully(fh, buf, chunkOffset, path);
    const frames = Math.floor(n / frameSize);
    for (let i = 0; i < frames; i++) {
      const base = i * frameSize;
      if (dv.getUint32(base + 8) !== salt1 || dv.getUint32(base + 12) !== salt2) {
        stopReason = "salt-mismatch";
        break scan;
      }
      walFrameChecksumUpdate(state, buf, base, pageSize, bigEndianChecksums);
      if (state.s0 !== dv.getUint32(base + 16) || state.s1 !== dv.getUint32(base + 20)) {
        stopReason = "checksum-mismatch";
        break scan;
      }
      const frameOffset = chunkOffset + base;
      const pgno = dv.getUint32(base);
      if (pgno === 0) {
        // Salts and checksum say SQLite wrote this frame, yet page 0 does not exist: refuse rather than ship.
        throw new WalshipError("wal_invalid", `WAL frame at offset ${frameOffset} has page number 0`, {
          op: "wal.scan",
          context: { field: "pgno", offset: frameOffset, path },
          hint: "the WAL is corrupt; run PRAGMA integrity_check on the database",
        });
      }
      pending.set(pgno, frameOffset + WAL_FRAME_HEADER_SIZE);
      const frameCommit = dv.getUint32(base + 4);
      if (frameCommit === 0) continue;
      for (const [p, o] of pending) pages.set(p, o);
      pending.clear();
      end = frameOffset + frameSize;
      commit = frameCommit;
      txCount++;
      endChecksum1 = state.s0;
      endChecksum2 = state.s1;
      if (maxBytes !== undefined && end - start >= maxBytes) {
        stopReason = "limit";
        break scan;
      }
    }
    if (frames < framesPerChunk) break; // end of file, possibly inside a partly written frame
    chunkOffset += frames * frameSize;
    if (framesPerChunk < maxFrames) {
      framesPerChunk = Math.min(maxFrames, framesPerChunk * 2);
      buf = new Uint8Array(framesPerChunk * frameSize);
      dv = new DataView(buf.buffer);
    }
  }

  // Dropped only against the final size: pages above it are not part of the database any more. A page freed
  // by an earlier shrink and reused later is rewritten by that later transaction, so it is never lost here.
  if (commit > 0) {
    for (const pgno of pages.keys()) if (pgno > commit) pages.delete(pgno);
  }

  return {
    status,
    header,
    start,
    end,
    commit,
    pages,
    txCount,
    position: { offset: end, salt1, salt2, checksum1: endChecksum1, checksum2: endChecksum2 },
    stopReason,
  };
}

/**
 * Read one page image at `dataOffset` (a value from `WalScan.pages`). Valid only while the WAL has not been
 * restarted since the scan, which the caller guarantees by holding a read transaction on the database.
 */
export async function readPage(
  fh: FileHandle,
  dataOffset: number,
  pageSize: number,
  into?: Uint8Array,
): Promise<Uint8Array> {
  if (into !== undefined && into.length < pageSize) {
    throw new RangeError(
      `readPage: buffer of ${into.length} bytes is smaller than the page size ${pageSize}`,
    );
  }
  const page = into === undefined ? new Uint8Array(pageSize) : into.subarray(0, pageSize);
  const n = await readFully(fh, page, dataOffset, undefined);
  if (n < pageSize) {
    throw new WalshipError("wal_invalid", `WAL ended ${n} bytes into the page at offset ${dataOffset}`, {
      op: "wal.readPage",
      context: { offset: dataOffset },
      hint: "the WAL was truncated after it was scanned; scan it again",
      retryable: true,
    });
  }
  return page;
}

function nothingRead(position: WalPosition): WalScanResult {
  return {
    start: position.offset,
    end: position.offset,
    commit: 0,
    pages: new Map(),
    txCount: 0,
    position,
    stopReason: "eof",
  };
}

function positionError(message: string, from: WalPosition, path: string | undefined): WalshipError {
  return new WalshipError("wal_invalid", `invalid WAL position: ${message}`, {
    op: "wal.scan",
    context: { field: "offset", offset: from.offset, path },
    hint: "the saved position does not belong to this WAL; start from a snapshot",
  });
}

function withPath<T>(fn: () => T, path: string | undefined): T {
  try {
    return fn();
  } catch (e) {
    if (path !== undefined && e instanceof WalshipError) e.context.path = path;
    throw e;
  }
}

async function stat(fh: FileHandle, path: string | undefined): Promise<number> {
  try {
    return (await fh.stat()).size;
  } catch (e) {
    throw fsError(e, "wal.scan", path ?? "<wal>");
  }
}

/** Fill `buf` from `position`, returning fewer bytes only at end of file. */
async function readFully(
  fh: FileHandle,
  buf: Uint8Array,
  position: number,
  path: string | undefined,
): Promise<number> {
  let filled = 0;
  try {
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
  } catch (e) {
    throw fsError(e, "wal.read", path ?? "<wal>");
  }
  return filled;
}
