/**
 * Byte-level damage to a valid LTX file, at named structural fields. The layout (frame offsets, end
 * marker, index, trailer) comes from decoding the intact file, so each damage hits exactly its field.
 * `resign` recomputes the file checksum afterwards, so the field's own validation (not the checksum) has
 * to catch the damage: that is what proves every field is checked, not just the CRC. The checksum covers
 * the header, each frame's header, the *decompressed* pages, and everything after the pages up to the
 * checksum itself, so re-signing uses the intact file's decoded pages for damage outside the payloads.
 */
import { CHECKSUM_FLAG, Crc64 } from "../../src/ltx/crc64.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { TRAILER_SIZE } from "../../src/ltx/trailer.js";

export interface LtxLayout {
  size: number;
  frames: Array<{ pgno: number; offset: number; size: number; data: Uint8Array }>;
  endMarkerOffset: number;
  indexOffset: number;
  /** Offset of the u64 index size field. */
  indexSizeOffset: number;
  trailerOffset: number;
}

export async function layoutOf(bytes: Uint8Array): Promise<LtxLayout> {
  const d = await decodeLtx(bytes);
  return {
    size: d.size,
    frames: d.pages.map((p) => ({ pgno: p.pgno, offset: p.offset, size: p.size, data: p.data.slice() })),
    endMarkerOffset: d.endMarkerOffset,
    indexOffset: d.indexOffset,
    indexSizeOffset: d.indexOffset + d.indexSize,
    trailerOffset: d.size - TRAILER_SIZE,
  };
}

/** Recomputes the file checksum over the damaged bytes, with the intact pages (block frames only). */
export function resign(b: Buffer, l: LtxLayout): Buffer {
  const crc = new Crc64();
  crc.update(b, 0, 100);
  for (const f of l.frames) {
    crc.update(b, f.offset, f.offset + 10);
    crc.update(f.data);
  }
  crc.update(b, l.endMarkerOffset, b.length - 8);
  b.writeBigUInt64BE(CHECKSUM_FLAG | crc.digest(), b.length - 8);
  return b;
}

/** Unsigned LEB128, as the page index stores its numbers. */
export function uvarint(v: number): Buffer {
  const out: number[] = [];
  let x = v;
  while (x >= 0x80) {
    out.push((x & 0x7f) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
  return Buffer.from(out);
}
