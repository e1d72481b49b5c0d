/**
 * Incremental xxHash32 (seed 0 by default), for the content checksum of multi-block LZ4 frames that are
 * decoded block by block. Gives the same result as src/ltx/xxh32.ts's one-shot xxh32 over the whole input.
 */

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;
const P4 = 0x27d4eb2f | 0;
const P5 = 0x165667b1 | 0;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function u32le(d: Uint8Array, i: number): number {
  return d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24);
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);
}

export class Xxh32Stream {
  private v1: number;
  private v2: number;
  private v3: number;
  private v4: number;
  private readonly seed: number;
  private total = 0;
  private readonly buf = new Uint8Array(16);
  private bufLen = 0;

  constructor(seed = 0) {
    this.seed = seed | 0;
    this.v1 = (this.seed + P1 + P2) | 0;
    this.v2 = (this.seed + P2) | 0;
    this.v3 = this.seed;
    this.v4 = (this.seed - P1) | 0;
  }

  private stripe(d: Uint8Array, i: number): void {
    this.v1 = round(this.v1, u32le(d, i));
    this.v2 = round(this.v2, u32le(d, i + 4));
    this.v3 = round(this.v3, u32le(d, i + 8));
    this.v4 = round(this.v4, u32le(d, i + 12));
  }

  update(data: Uint8Array): this {
    this.total += data.length;
    let i = 0;
    if (this.bufLen > 0) {
      const k = Math.min(16 - this.bufLen, data.length);
      this.buf.set(data.subarray(0, k), this.bufLen);
      this.bufLen += k;
      i = k;
      if (this.bufLen < 16) return this;
      this.stripe(this.buf, 0);
      this.bufLen = 0;
    }
    const limit = data.length - 16;
    while (i <= limit) {
      this.stripe(data, i);
      i += 16;
    }
    if (i < data.length) {
      this.buf.set(data.subarray(i), 0);
      this.bufLen = data.length - i;
    }
    return this;
  }

  /** The unsigned 32-bit hash of everything passed to update(). */
  digest(): number {
    let h: number;
    if (this.total >= 16) {
      h = (rotl(this.v1, 1) + rotl(this.v2, 7) + rotl(this.v3, 12) + rotl(this.v4, 18)) | 0;
    } else {
      h = (this.seed + P5) | 0;
    }
    h = (h + this.total) | 0;
    let i = 0;
    const end = this.bufLen;
    const d = this.buf;
    while (i + 4 <= end) {
      h = Math.imul(rotl((h + Math.imul(u32le(d, i), P3)) | 0, 17), P4);
      i += 4;
    }
    while (i < end) {
      h = Math.imul(rotl((h + Math.imul(d[i]!, P5)) | 0, 11), P1);
      i++;
    }
    h ^= h >>> 15;
    h = Math.imul(h, P2);
    h ^= h >>> 13;
    h = Math.imul(h, P3);
    h ^= h >>> 16;
    return h >>> 0;
  }
}
