/**
 * SQLite's WAL checksum (sqlite.org/fileformat2.html, "Checksum Algorithm").
 *
 * The input is read as 32-bit words in the byte order chosen by the WAL magic, which is not necessarily the
 * byte order the checksum fields are stored in (those are always big-endian). Mixing the two up makes every
 * validation pass or fail regardless of content, so callers must pass the header's `bigEndianChecksums`.
 *
 * This runs over every byte of every frame we ship, so it avoids per-word allocation and uses int32
 * arithmetic (`| 0`), which V8 keeps in registers; results are converted to unsigned only at the end.
 */

import { endianness } from "node:os";

const NATIVE_LITTLE_ENDIAN = endianness() === "LE";

/** A running checksum. Mutated in place so the per-frame hot path allocates nothing. */
export interface WalChecksumState {
  s0: number;
  s1: number;
}

/**
 * Continue `state` over `data[start, end)`. The range length must be a multiple of 8 (SQLite feeds words in
 * pairs; every range it checksums, 24-byte header prefix, 8-byte frame prefix, page, satisfies this).
 */
export function walChecksumUpdate(
  state: WalChecksumState,
  data: Uint8Array,
  start: number,
  end: number,
  bigEndian: boolean,
): void {
  const len = end - start;
  if (start < 0 || end > data.length || len < 0 || len % 8 !== 0) {
    throw new RangeError(`walChecksum: range [${start}, ${end}) must lie in the data and be a multiple of 8`);
  }
  let s0 = state.s0 | 0;
  let s1 = state.s1 | 0;
  const absolute = data.byteOffset + start;
  if (bigEndian !== NATIVE_LITTLE_ENDIAN && absolute % 4 === 0) {
    // Word order equals the machine's and the range is aligned: read words straight from memory. This is the
    // common case (SQLite writes native order, and the reader's chunk buffers and frames are 8-byte aligned).
    const words = new Int32Array(data.buffer, absolute, len >>> 2);
    const n = words.length;
    for (let i = 0; i < n; i += 2) {
      s0 = (s0 + words[i] + s1) | 0;
      s1 = (s1 + words[i + 1] + s0) | 0;
    }
  } else {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const littleEndian = !bigEndian;
    for (let i = start; i < end; i += 8) {
      s0 = (s0 + view.getInt32(i, littleEndian) + s1) | 0;
      s1 = (s1 + view.getInt32(i + 4, littleEndian) + s0) | 0;
    }
  }
  state.s0 = s0 >>> 0;
  state.s1 = s1 >>> 0;
}

/** Convenience form: checksum of `data[start, end)` continuing from (s0, s1), returned as a pair. */
export function walChecksum(
  data: Uint8Array,
  start: number,
  end: number,
  bigEndian: boolean,
  s0 = 0,
  s1 = 0,
): [number, number] {
  const state = { s0, s1 };
  walChecksumUpdate(state, data, start, end, bigEndian);
  return [state.s0, state.s1];
}

/**
 * Continue `state` over one frame the way SQLite does: the first 8 bytes of the frame header (page number and
 * commit size), then the page data. Salts and the stored checksum are not input. `frameStart` is the offset of
 * the 24-byte frame header inside `data`.
 */
export function walFrameChecksumUpdate(
  state: WalChecksumState,
  data: Uint8Array,
  frameStart: number,
  pageSize: number,
  bigEndian: boolean,
): void {
  walChecksumUpdate(state, data, frameStart, frameStart + 8, bigEndian);
  walChecksumUpdate(state, data, frameStart + 24, frameStart + 24 + pageSize, bigEndian);
}
