/**
 * Single LZ4 frames (legacy LTX page payloads, spec §3.5): the decoder for any standard frame and the
 * encoder of the exact frame shape ltx v0.5.1 wrote. Blocks inside a frame go through lz4.ts's block
 * codec; import these functions from lz4.ts, which re-exports them.
 */
import { WalshipError } from "../errors.js";
import { compressBlock, compressBound, decodeBlock } from "./lz4.js";
import { xxh32 } from "./xxh32.js";

const FRAME_MAGIC = 0x184d2204;
const STORED_BIT = 0x80000000;
// pierrec Writer with Block64Kb and a content checksum: the only frame shape ltx <= v0.5.1 accepts.
const LEGACY_FLG = 0x64;
const LEGACY_BD = 0x40;
const LEGACY_HC = 0xa7;

/** The WalshipError "lz4" of a malformed frame (blocks inside it fail through lz4.ts with its own hint). */
function frameFail(message: string): never {
  throw new WalshipError("lz4", message, {
    op: "lz4 decompress",
    hint: "the legacy LZ4 page frame is corrupt or truncated; re-fetch the LTX file",
  });
}

function u32le(a: Uint8Array, i: number): number {
  return (a[i] | (a[i + 1] << 8) | (a[i + 2] << 16) | (a[i + 3] << 24)) >>> 0;
}

function putU32le(a: Uint8Array, i: number, v: number): void {
  a[i] = v;
  a[i + 1] = v >>> 8;
  a[i + 2] = v >>> 16;
  a[i + 3] = v >>> 24;
}

/**
 * Parses one standard LZ4 frame at src[0] (a legacy LTX page payload, spec §3.5) and decodes it into
 * dst, verifying the header checksum, block checksums, content checksum and content size when
 * present. Returns the frame's length in src and the bytes written. Throws WalshipError "lz4".
 */
export function decompressFrame(src: Uint8Array, dst: Uint8Array): { consumed: number; written: number } {
  if (src.length < 7) frameFail(`truncated LZ4 frame: ${src.length} bytes, a frame header needs at least 7`);
  const magic = u32le(src, 0);
  if (magic !== FRAME_MAGIC) {
    frameFail(`bad LZ4 frame magic 0x${magic.toString(16).padStart(8, "0")} (expected 0x184d2204)`);
  }
  const flg = src[4];
  const bd = src[5];
  if (flg >>> 6 !== 1) frameFail(`unsupported LZ4 frame version ${flg >>> 6} in FLG 0x${flg.toString(16)}`);
  if (flg & 0x02) frameFail(`reserved bit set in LZ4 frame FLG 0x${flg.toString(16)}`);
  if (flg & 0x01) frameFail("LZ4 frame needs a dictionary (dictID flag set); walship has none");
  if (bd & 0x8f) frameFail(`reserved bits set in LZ4 frame BD 0x${bd.toString(16)}`);
  const sizeCode = (bd >>> 4) & 7;
  if (sizeCode < 4) frameFail(`invalid LZ4 frame block-size code ${sizeCode} in BD`);
  const blockMax = 1 << (8 + 2 * sizeCode); // 64 KiB, 256 KiB, 1 MiB, 4 MiB
  const independent = (flg & 0x20) !== 0;
  const blockChecksum = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  let s = 6;
  let contentSize = -1;
  if (hasContentSize) {
    if (src.length < s + 9) frameFail("truncated LZ4 frame header (content size)");
    const lo = u32le(src, s);
    const hi = u32le(src, s + 4);
    if (hi > 0x1fffff) frameFail("LZ4 frame content size too large");
    contentSize = hi * 0x100000000 + lo;
    s += 8;
  }
  const hc = (xxh32(src, 0, 4, s) >>> 8) & 0xff;
  if (src[s] !== hc) {
    frameFail(
      `LZ4 frame header checksum mismatch: stored 0x${src[s].toString(16)}, computed 0x${hc.toString(16)}`,
    );
  }
  s++;

  let d = 0;
  for (;;) {
    if (src.length - s < 4) frameFail(`truncated LZ4 frame: block size missing at byte ${s}`);
    const word = u32le(src, s);
    s += 4;
    if (word === 0) break;
    const stored = (word & STORED_BIT) !== 0;
    const size = word & 0x7fffffff;
    if (size > blockMax) frameFail(`LZ4 frame block of ${size} bytes exceeds the ${blockMax}-byte maximum`);
    if (src.length - s < size + (blockChecksum ? 4 : 0)) {
      frameFail(`truncated LZ4 frame: block of ${size} bytes at byte ${s - 4} runs past the end`);
    }
    if (blockChecksum) {
      const want = u32le(src, s + size);
      const got = xxh32(src, 0, s, s + size);
      if (want !== got) frameFail(`LZ4 frame block checksum mismatch at byte ${s - 4}`);
    }
    if (stored) {
      if (size > dst.length - d)
        frameFail(`LZ4 frame decodes to more than the ${dst.length}-byte output buffer`);
      dst.set(src.subarray(s, s + size), d);
      d += size;
    } else {
      const before = d;
      d = decodeBlock(src, s, s + size, dst, d, dst.length, independent ? d : 0);
      if (d - before > blockMax)
        frameFail(`LZ4 frame block decodes to more than the ${blockMax}-byte maximum`);
    }
    s += size + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) {
    if (src.length - s < 4) frameFail("truncated LZ4 frame: content checksum missing");
    const want = u32le(src, s);
    const got = xxh32(dst, 0, 0, d);
    if (want !== got) {
      frameFail(
        `LZ4 frame content checksum mismatch: stored 0x${want.toString(16).padStart(8, "0")}, ` +
          `computed 0x${got.toString(16).padStart(8, "0")}`,
      );
    }
    s += 4;
  }
  if (contentSize >= 0 && contentSize !== d) {
    frameFail(`LZ4 frame content size mismatch: header says ${contentSize}, decoded ${d}`);
  }
  return { consumed: s, written: d };
}

let legacyScratch: Uint8Array | undefined;

/**
 * Encodes one page as the exact frame ltx v0.5.1 wrote (pierrec Writer, Block64Kb, Fast): FLG 0x64,
 * BD 0x40, HC 0xA7, one block (stored with the 0x80000000 bit when compression does not shrink the
 * page), EndMark, xxh32 content checksum. Byte-identical to Go's frames, see the legacy vectors.
 */
export function encodeLegacyFrame(page: Uint8Array): Uint8Array {
  const n = page.length;
  if (n > 0x10000) throw new RangeError(`lz4 encodeLegacyFrame: page of ${n} bytes exceeds 65536`);
  legacyScratch ??= new Uint8Array(compressBound(0x10000));
  // pierrec compresses into a page-sized buffer and stores the page when the block would not be smaller.
  const c = n === 0 ? 0 : compressBlock(page, legacyScratch);
  const stored = c >= n;
  const body = n === 0 ? 0 : 4 + (stored ? n : c);
  const out = new Uint8Array(7 + body + 8);
  putU32le(out, 0, FRAME_MAGIC);
  out[4] = LEGACY_FLG;
  out[5] = LEGACY_BD;
  out[6] = LEGACY_HC;
  let o = 7;
  if (n > 0) {
    if (stored) {
      putU32le(out, o, (n | STORED_BIT) >>> 0);
      out.set(page, o + 4);
      o += 4 + n;
    } else {
      putU32le(out, o, c);
      out.set(legacyScratch.subarray(0, c), o + 4);
      o += 4 + c;
    }
  }
  putU32le(out, o, 0);
  putU32le(out, o + 4, xxh32(page));
  return out;
}
