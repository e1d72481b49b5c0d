/**
 * LZ4 raw blocks (the payload of current LTX page frames, spec §9) and single LZ4 frames (legacy page
 * payloads, spec §3.5), in pure TypeScript. This file holds the block codec; the frame code is in
 * lz4-frame.ts and re-exported here, so every LZ4 function is imported from this module.
 *
 * The compressor mirrors pierrec/lz4 v4 `CompressBlock`, the compressor the Go ltx encoder uses: same
 * 6-byte multiplicative hash, same three-candidate probe, skip ramp and match extension. Its blocks
 * are byte-identical to Go's (checked against every block of the Go-written test vectors), so
 * walship's LTX files can be compared byte for byte with files written by Litestream.
 */
import { WalshipError } from "../errors.js";

// lz4-frame.ts imports decodeBlock and the compressor from here. The import cycle is safe: neither
// module calls into the other while it is being evaluated (only function declarations cross it).
export { decompressFrame, encodeLegacyFrame } from "./lz4-frame.js";

const MIN_MATCH = 4;
// pierrec refuses to start a match in the last 14 bytes; stricter than LZ4's own 12-byte rule.
const MF_LIMIT = 14;
const ADAPT_SKIP_LOG = 7;

/** Worst-case block size for n input bytes (pierrec's CompressBlockBound): n + n/255 + 16. */
export function compressBound(n: number): number {
  return n + ((n / 255) | 0) + 16;
}

function fail(message: string, hint?: string): never {
  throw new WalshipError("lz4", message, {
    op: "lz4 decompress",
    hint: hint ?? "the LZ4 payload is corrupt or truncated; re-fetch the LTX file",
  });
}

/** Writes the 255-run continuation of a literal or match length (the part beyond the token's 15). */
function putLength(dst: Uint8Array, di: number, rest: number): number {
  for (; rest >= 255; rest -= 255) dst[di++] = 255;
  dst[di++] = rest;
  return di;
}

// ---------------------------------------------------------------------------------------------------
// Compression

/*
 * pierrec's blockHash: bits 48..63 of ((x << 16) * 227718039650203) mod 2^64, which equals bits 32..47
 * of (x48 * P) where x48 is the low 6 bytes of x. With x48 = xh * 2^32 + xl and P = PH * 2^32 + PL,
 * those bits are (mulhi(xl, PL) + xl * PH + xh * PL) mod 2^16; mulhi is assembled from 16-bit halves
 * so that everything stays in exact int32 arithmetic.
 */
const PH = 53019;
const PL = 3168583579 | 0;
const PL1 = 48348; // PL >>> 16
const PL0 = 49051; // PL & 0xffff

function hash6(xl: number, xh: number): number {
  const a0 = xl & 0xffff;
  const a1 = xl >>> 16;
  const p01 = Math.imul(a0, PL1);
  const p10 = Math.imul(a1, PL0);
  const carry = ((Math.imul(a0, PL0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)) >>> 16;
  const mulhi = (Math.imul(a1, PL1) & 0xffff) + (p01 >>> 16) + (p10 >>> 16) + carry;
  return (mulhi + Math.imul(xl, PH) + Math.imul(xh, PL)) & 0xffff;
}

/*
 * The hash table holds (generation << 16 | position). Entries from an earlier call carry an older
 * generation and read as position 0, exactly like pierrec's cleared table, so no per-call clear of the
 * 256 KiB table is needed; it is cleared only when the generation counter wraps.
 */
let table: Int32Array | undefined;
let generation = 0;

function nextGeneration(): Int32Array {
  if (table === undefined) table = new Int32Array(1 << 16);
  generation++;
  if (generation > 0x7fff) {
    table.fill(0);
    generation = 1;
  }
  return table;
}

/** Copies src[from, from + len) to dst[to, ...) for the short literal runs that dominate page data. */
function copyLiterals(
  src: Uint8Array,
  sv: DataView,
  from: number,
  dst: Uint8Array,
  dv: DataView,
  to: number,
  len: number,
): void {
  if (len <= 64 && from + len + 8 <= src.length && to + len + 8 <= dst.length) {
    // Whole 8-byte words, possibly spilling up to 7 bytes past the run: those bytes lie inside both
    // buffers and the next token or literal overwrites them.
    for (let k = 0; k < len; k += 8) {
      dv.setInt32(to + k, sv.getInt32(from + k, true), true);
      dv.setInt32(to + k + 4, sv.getInt32(from + k + 4, true), true);
    }
  } else if (len > 32) {
    dst.set(src.subarray(from, from + len), to);
  } else {
    for (let k = 0; k < len; k++) dst[to + k] = src[from + k];
  }
}

/**
 * Compresses src (at most 65536 bytes, one page) into one raw LZ4 block in dst, which must hold
 * compressBound(src.length) bytes; returns the block length. Incompressible input gives a literal-only
 * block, never 0. Follows the LZ4 end-of-block rules (matches start >= 13 and end >= 9 bytes before
 * the end). Bytes of dst past the returned length are unspecified.
 */
export function compressBlock(src: Uint8Array, dst: Uint8Array): number {
  const n = src.length;
  if (n > 0x10000) throw new RangeError(`lz4 compressBlock: input of ${n} bytes exceeds 65536`);
  if (dst.length < compressBound(n)) {
    throw new RangeError(`lz4 compressBlock: dst has ${dst.length} bytes, needs ${compressBound(n)}`);
  }
  // DataView reads compile to single unaligned loads; assembling words from bytes costs twice as much.
  const sv = new DataView(src.buffer, src.byteOffset, n);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.length);
  const sn = n - MF_LIMIT;
  let si = 0;
  let di = 0;
  let anchor = 0;
  if (sn > 0) {
    const t = nextGeneration();
    const gen = generation << 16;
    while (si < sn) {
      const lo = sv.getInt32(si, true);
      const hi = sv.getInt32(si + 4, true);
      const h = hash6(lo, hi & 0xffff);
      const lo2 = (lo >>> 8) | (hi << 24);
      const h2 = hash6(lo2, (hi >>> 8) & 0xffff);
      let e = t[h];
      const ref = e >= gen ? e - gen : 0;
      e = t[h2];
      const ref2 = e >= gen ? e - gen : 0;
      t[h] = gen | si;
      t[h2] = gen | (si + 1);
      let offset: number;
      if (ref < si && sv.getInt32(ref, true) === lo) {
        offset = si - ref;
      } else {
        const lo3 = (lo >>> 16) | (hi << 16);
        const h3 = hash6(lo3, hi >>> 16);
        e = t[h3];
        const ref3 = e >= gen ? e - gen : 0;
        if (ref2 <= si && sv.getInt32(ref2, true) === lo2) {
          si += 1;
          offset = si - ref2;
        } else {
          si += 2;
          t[h3] = gen | si;
          if (ref3 < si && sv.getInt32(ref3, true) === lo3) {
            offset = si - ref3;
          } else {
            si += 2 + ((si - anchor) >>> ADAPT_SKIP_LOG);
            continue;
          }
        }
      }

      // Extend backwards into the pending literals.
      let mStart = si;
      let tOff = si - offset - 1;
      while (mStart > anchor && tOff >= 0 && src[mStart - 1] === src[tOff]) {
        mStart--;
        tOff--;
      }
      // The 4 bytes at si are known to match; the batch alignment from here must equal pierrec's.
      si += MIN_MATCH;
      // Extend forwards 8 bytes at a time, never past sn (pierrec's end-of-block margin).
      while (si + 8 <= sn) {
        const x = sv.getInt32(si, true) ^ sv.getInt32(si - offset, true);
        if (x !== 0) {
          si += (31 - Math.clz32(x & -x)) >>> 3;
          break;
        }
        const y = sv.getInt32(si + 4, true) ^ sv.getInt32(si + 4 - offset, true);
        if (y !== 0) {
          si += 4 + ((31 - Math.clz32(y & -y)) >>> 3);
          break;
        }
        si += 8;
      }
      const mLen = si - mStart - MIN_MATCH;
      const lLen = mStart - anchor;

      const mTok = Math.min(mLen, 15);
      if (lLen < 15) {
        dst[di++] = (lLen << 4) | mTok;
      } else {
        dst[di++] = 0xf0 | mTok;
        di = putLength(dst, di, lLen - 15);
      }
      copyLiterals(src, sv, anchor, dst, dv, di, lLen);
      di += lLen;
      dst[di++] = offset;
      dst[di++] = offset >>> 8;
      if (mLen >= 15) di = putLength(dst, di, mLen - 15);
      anchor = si;
      if (si >= sn) break;
      t[hash6(sv.getInt32(si - 2, true), sv.getUint16(si + 2, true))] = gen | (si - 2);
    }
  }
  const lLen = n - anchor;
  if (lLen < 15) {
    dst[di++] = lLen << 4;
  } else {
    dst[di++] = 0xf0;
    di = putLength(dst, di, lLen - 15);
  }
  copyLiterals(src, sv, anchor, dst, dv, di, lLen);
  return di + lLen;
}

// ---------------------------------------------------------------------------------------------------
// Decompression

/**
 * Decodes src[s, sEnd) into dst starting at d, writing no further than dEnd. Matches may reach back to
 * `low` (the start of this block, or of the frame for linked blocks). Returns the new output position.
 * Bytes of dst past the returned position may be overwritten (by whole-word copies) but never past dEnd.
 * Exported for lz4-frame.ts, which decodes a frame's blocks with it.
 */
export function decodeBlock(
  src: Uint8Array,
  s: number,
  sEnd: number,
  dst: Uint8Array,
  d: number,
  dEnd: number,
  low: number,
): number {
  const dStart = d;
  // Whole-word copies through DataView compile to unaligned 32-bit moves, several times faster than
  // byte loops for the short literal runs and matches that make up page data.
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  if (s >= sEnd) fail("empty LZ4 block (a block holds at least one token)");
  for (;;) {
    const token = src[s++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= sEnd) fail(`truncated LZ4 block: literal length runs past the end at input byte ${s}`);
        b = src[s++];
        lit += b;
      } while (b === 255);
    }
    if (lit > 0) {
      if (lit > sEnd - s) {
        fail(`truncated LZ4 block: ${lit} literals at input byte ${s} but only ${sEnd - s} bytes left`);
      }
      if (lit > dEnd - d) fail(`LZ4 block decodes to more than the ${dEnd - dStart}-byte output buffer`);
      if (lit <= 32 && s + 32 <= sEnd && d + 32 <= dEnd) {
        dv.setInt32(d, sv.getInt32(s, true), true);
        dv.setInt32(d + 4, sv.getInt32(s + 4, true), true);
        dv.setInt32(d + 8, sv.getInt32(s + 8, true), true);
        dv.setInt32(d + 12, sv.getInt32(s + 12, true), true);
        if (lit > 16) {
          dv.setInt32(d + 16, sv.getInt32(s + 16, true), true);
          dv.setInt32(d + 20, sv.getInt32(s + 20, true), true);
          dv.setInt32(d + 24, sv.getInt32(s + 24, true), true);
          dv.setInt32(d + 28, sv.getInt32(s + 28, true), true);
        }
      } else if (lit > 32) {
        dst.set(src.subarray(s, s + lit), d);
      } else {
        for (let k = 0; k < lit; k++) dst[d + k] = src[s + k];
      }
      s += lit;
      d += lit;
    }
    if (s === sEnd) return d;
    if (sEnd - s < 2) fail(`truncated LZ4 block: match offset cut off at input byte ${s}`);
    const offset = src[s] | (src[s + 1] << 8);
    s += 2;
    if (offset === 0) fail(`invalid LZ4 block: match offset 0 at input byte ${s - 2}`);
    if (offset > d - low) {
      fail(
        `invalid LZ4 block: match offset ${offset} reaches before the start of the output (position ${d - low})`,
      );
    }
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        if (s >= sEnd) fail(`truncated LZ4 block: match length runs past the end at input byte ${s}`);
        b = src[s++];
        ml += b;
      } while (b === 255);
    }
    ml += MIN_MATCH;
    if (ml > dEnd - d) fail(`LZ4 block decodes to more than the ${dEnd - dStart}-byte output buffer`);
    const m = d - offset;
    if (offset >= 8 && ml <= 16 && d + 16 <= dEnd) {
      dv.setInt32(d, dv.getInt32(m, true), true);
      dv.setInt32(d + 4, dv.getInt32(m + 4, true), true);
      if (ml > 8) {
        dv.setInt32(d + 8, dv.getInt32(m + 8, true), true);
        dv.setInt32(d + 12, dv.getInt32(m + 12, true), true);
      }
    } else if (offset >= 8 && ml <= 64 && d + ml + 8 <= dEnd) {
      // Each 8-byte step reads only bytes already written, because the source is >= 8 bytes behind.
      for (let k = 0; k < ml; k += 8) {
        dv.setInt32(d + k, dv.getInt32(m + k, true), true);
        dv.setInt32(d + k + 4, dv.getInt32(m + k + 4, true), true);
      }
    } else if (ml <= 16) {
      for (let k = 0; k < ml; k++) dst[d + k] = dst[m + k];
    } else if (offset === 1) {
      dst.fill(dst[m], d, d + ml);
    } else {
      // One call when source and target do not overlap; otherwise the copied region doubles each
      // step, so an n-byte run costs log2(n / offset) calls.
      const end = d + ml;
      let to = d;
      while (to < end) {
        const chunk = Math.min(to - m, end - to);
        dst.copyWithin(to, m, m + chunk);
        to += chunk;
      }
    }
    d += ml;
    if (s >= sEnd) fail("truncated LZ4 block: it ends with a match instead of a literal run");
  }
}

/**
 * Decodes one raw LZ4 block into dst; returns the bytes written. Throws WalshipError "lz4" on a
 * malformed block (offset 0 or before the start of the output, reading past src, output larger than
 * dst, a block ending in a match). Never reads or writes outside src and dst; bytes of dst past the
 * returned count may be overwritten by whole-word copies.
 */
export function decompressBlock(src: Uint8Array, dst: Uint8Array): number {
  return decodeBlock(src, 0, src.length, dst, 0, dst.length, 0);
}
