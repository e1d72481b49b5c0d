/**
 * Streaming decoder for the LZ4 frames of Litestream v0.3 backups (litestream-v05.md §15): a whole
 * database snapshot or a WAL segment, written by pierrec/lz4 v4 with its defaults (4 MiB independent
 * blocks, content checksum, no content size). Blocks are decoded one at a time with src/ltx/lz4.ts's
 * decompressBlock, so a multi-GiB snapshot never has to be held in memory; the content checksum is
 * computed incrementally. Concatenated frames and skippable frames are accepted, as the LZ4 frame format
 * allows.
 *
 * Frames with linked (dependent) blocks, which pierrec never writes, are decoded whole through
 * decompressFrame instead: correct, but held in memory.
 */
import { WalshipError } from "../../errors.js";
import { decompressBlock, decompressFrame } from "../../ltx/lz4.js";
import { xxh32 } from "../../ltx/xxh32.js";
import { Xxh32Stream } from "./xxh32-stream.js";

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const STORED_BIT = 0x80000000;
const BLOCK_MAX: Record<number, number> = { 4: 0x10000, 5: 0x40000, 6: 0x100000, 7: 0x400000 };

function u32le(a: Uint8Array, i: number): number {
  return (a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24)) >>> 0;
}

/** Pulls exact byte counts out of an async chunk stream. */
class Pull {
  private chunks: Uint8Array[] = [];
  private have = 0;
  private done = false;
  private readonly it: AsyncIterator<Uint8Array>;
  /** Bytes consumed so far (for error messages). */
  consumed = 0;

  constructor(src: AsyncIterable<Uint8Array>) {
    this.it = src[Symbol.asyncIterator]();
  }

  /** Ensures at least n bytes are buffered; false at end of input with fewer available. */
  async fill(n: number): Promise<boolean> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.have += r.value.length;
      }
    }
    return this.have >= n;
  }

  get buffered(): number {
    return this.have;
  }

  /** Takes exactly n buffered bytes (call fill(n) first). */
  take(n: number): Uint8Array {
    if (n > this.have) throw new Error("Pull.take past buffered data");
    this.consumed += n;
    this.have -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

export interface Lz4StreamOptions {
  /** Named in errors, e.g. the object key. */
  what: string;
}

/**
 * Decodes an LZ4 frame stream, yielding decompressed chunks (each at most one block, 4 MiB). The yielded
 * arrays may be reused after the consumer's next pull: copy them if they must outlive it.
 */
export async function* decodeLz4FrameStream(
  src: AsyncIterable<Uint8Array>,
  opts: Lz4StreamOptions,
): AsyncGenerator<Uint8Array> {
  const fail = (message: string): never => {
    throw new WalshipError("lz4", `${opts.what}: ${message}`, {
      op: "legacy restore",
      context: { key: opts.what },
      hint: "the v0.3 backup file is corrupt or truncated; restore an earlier generation or index",
    });
  };
  const p = new Pull(src);
  let scratch: Uint8Array | undefined;
  let frames = 0;
  try {
    for (;;) {
      if (!(await p.fill(4))) {
        if (p.buffered > 0) fail(`${p.buffered} stray bytes after the last LZ4 frame`);
        if (frames === 0) fail("empty file, expected an LZ4 frame");
        return;
      }
      const start = p.consumed;
      const magic = u32le(p.take(4), 0);
      if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
        if (!(await p.fill(4))) fail("truncated skippable frame");
        let skip = u32le(p.take(4), 0);
        while (skip > 0) {
          const n = Math.min(skip, 1 << 20);
          if (!(await p.fill(n))) fail("truncated skippable frame");
          p.take(n);
          skip -= n;
        }
        continue;
      }
      if (magic !== FRAME_MAGIC) {
        fail(`bad LZ4 frame magic 0x${magic.toString(16).padStart(8, "0")} at byte ${start}`);
      }
      frames++;
      if (!(await p.fill(2))) fail("truncated LZ4 frame header");
      const fb = p.take(2);
      const flg = fb[0]!;
      const bd = fb[1]!;
      if (flg >>> 6 !== 1) fail(`unsupported LZ4 frame version in FLG 0x${flg.toString(16)}`);
      const hasContentSize = (flg & 0x08) !== 0;
      const hasDict = (flg & 0x01) !== 0;
      const rest = (hasContentSize ? 8 : 0) + (hasDict ? 4 : 0) + 1;
      if (!(await p.fill(rest))) fail("truncated LZ4 frame header");
      const tail = p.take(rest);
      const descriptor = new Uint8Array(2 + rest - 1);
      descriptor[0] = flg;
      descriptor[1] = bd;
      descriptor.set(tail.subarray(0, rest - 1), 2);
      const hc = (xxh32(descriptor) >>> 8) & 0xff;
      if (tail[rest - 1] !== hc) fail("LZ4 frame header checksum mismatch");
      if (hasDict) fail("LZ4 frame needs a dictionary; none is known");
      const blockMax = BLOCK_MAX[(bd >>> 4) & 7];
      if (blockMax === undefined) fail(`invalid LZ4 block-size code in BD 0x${bd.toString(16)}`);
      const independent = (flg & 0x20) !== 0;
      const blockChecksum = (flg & 0x10) !== 0;
      const contentChecksum = (flg & 0x04) !== 0;
      const contentSize = hasContentSize
        ? u32le(tail, 0) + u32le(tail, 4) * 0x100000000
        : Number.POSITIVE_INFINITY;

      if (!independent) {
        // Linked blocks need the previous 64 KiB as a window: decode the frame whole.
        yield* decodeLinkedFrame(p, descriptor, tail[rest - 1]!, fail);
        continue;
      }

      const sum = contentChecksum ? new Xxh32Stream() : undefined;
      let produced = 0;
      if (scratch === undefined || scratch.length < blockMax) scratch = new Uint8Array(blockMax);
      for (;;) {
        if (!(await p.fill(4))) fail("truncated LZ4 frame: block size missing");
        const word = u32le(p.take(4), 0);
        if (word === 0) break;
        const stored = (word & STORED_BIT) !== 0;
        const size = (word & 0x7fffffff) >>> 0;
        if (size > blockMax) fail(`LZ4 block of ${size} bytes exceeds the ${blockMax}-byte maximum`);
        const need = size + (blockChecksum ? 4 : 0);
        if (!(await p.fill(need))) fail(`truncated LZ4 frame: block of ${size} bytes runs past the end`);
        const body = p.take(need);
        const block = body.subarray(0, size);
        if (blockChecksum && u32le(body, size) !== xxh32(block)) fail("LZ4 block checksum mismatch");
        let out: Uint8Array;
        if (stored) {
          out = block;
        } else {
          let n: number;
          try {
            n = decompressBlock(block, scratch);
          } catch (e) {
            fail(`LZ4 block at byte ${p.consumed - need - 4}: ${(e as Error).message}`);
            throw e;
          }
          out = scratch.subarray(0, n);
        }
        produced += out.length;
        if (produced > contentSize) fail("LZ4 frame decodes to more than its declared content size");
        sum?.update(out);
        yield out;
      }
      if (sum) {
        if (!(await p.fill(4))) fail("truncated LZ4 frame: content checksum missing");
        const want = u32le(p.take(4), 0);
        const got = sum.digest();
        if (want !== got) {
          fail(
            `LZ4 content checksum mismatch: stored 0x${want.toString(16).padStart(8, "0")}, computed 0x${got.toString(16).padStart(8, "0")}`,
          );
        }
      }
      if (hasContentSize && produced !== contentSize) {
        fail(`LZ4 frame content size mismatch: header says ${contentSize}, decoded ${produced}`);
      }
    }
  } finally {
    await p.close();
  }
}

/** Reads the rest of a linked-block frame and decodes it whole with decompressFrame. */
async function* decodeLinkedFrame(
  p: Pull,
  descriptor: Uint8Array,
  hc: number,
  fail: (m: string) => never,
): AsyncGenerator<Uint8Array> {
  const flg = descriptor[0]!;
  const blockChecksum = (flg & 0x10) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const parts: Uint8Array[] = [Uint8Array.of(0x04, 0x22, 0x4d, 0x18), descriptor, Uint8Array.of(hc)];
  let total = 0;
  for (;;) {
    if (!(await p.fill(4))) fail("truncated LZ4 frame: block size missing");
    const w = p.take(4);
    parts.push(new Uint8Array(w));
    const word = u32le(w, 0);
    if (word === 0) break;
    const size = (word & 0x7fffffff) + (blockChecksum ? 4 : 0);
    if (!(await p.fill(size))) fail("truncated LZ4 frame");
    parts.push(new Uint8Array(p.take(size)));
    total += word & 0x7fffffff;
  }
  if (contentChecksum) {
    if (!(await p.fill(4))) fail("truncated LZ4 frame: content checksum missing");
    parts.push(new Uint8Array(p.take(4)));
  }
  const frame = Buffer.concat(parts);
  // An LZ4 block expands at most ~255x; grow the output until it fits.
  for (let cap = Math.max(1 << 16, total * 4); ; cap *= 4) {
    const dst = new Uint8Array(Math.min(cap, total * 256 + 1024));
    try {
      const { written } = decompressFrame(frame, dst);
      yield dst.subarray(0, written);
      return;
    } catch (e) {
      const tooSmall = /more than the \d+-byte output buffer/.test((e as Error).message);
      if (!tooSmall || dst.length >= total * 256 + 1024) fail((e as Error).message);
    }
  }
}
