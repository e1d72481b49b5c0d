/** Shared test helpers: fixture access, the manifest, page generators and a seeded PRNG. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CHECKSUM_FLAG, Crc64 } from "../../src/ltx/crc64.js";
import { scanLz4Frame } from "../../src/ltx/frame.js";
import type { LtxHeader } from "../../src/ltx/header.js";
import { decompressBlock, decompressFrame } from "../../src/ltx/lz4.js";

export const FIXTURES = join(import.meta.dirname, "..", "fixtures", "ltx");
export const GENERATED = join(FIXTURES, "generated");
export const LITESTREAM_DIR = join(
  FIXTURES,
  "litestream/testdata/store/open-and-write-snapshot/dbs/sqlite.db",
);
export const LITESTREAM_V1 = join(LITESTREAM_DIR, "ltx/000000000000000d-000000000000000d.ltx");
export const LITESTREAM_DB = join(LITESTREAM_DIR, "database");

export interface ManifestPage {
  pgno: number;
  pageFlags: number;
  encoding: string;
  frameOffset: number;
  frameSize: number;
  compressedSize?: number;
  pageChecksum: string;
  dataSha256: string;
}

export interface ManifestEntry {
  file: string;
  size: number;
  sha256: string;
  generator: string;
  header: {
    magic: string;
    flags: number;
    pageSize: number;
    commit: number;
    minTXID: string;
    maxTXID: string;
    timestamp: number;
    preApplyChecksum: string;
    walOffset: number;
    walSize: number;
    walSalt1: number;
    walSalt2: number;
    nodeID: string;
  };
  pages: ManifestPage[];
  zeroPageHeaderOffset: number;
  pageIndexOffset: number;
  pageIndexSize: number;
  trailer: { postApplyChecksum: string; fileChecksum: string };
}

export const manifest: ManifestEntry[] = JSON.parse(readFileSync(join(GENERATED, "manifest.json"), "utf8"));

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(GENERATED, name)));
}

export function manifestEntry(name: string): ManifestEntry {
  const e = manifest.find((m) => m.file === name);
  if (!e) throw new Error(`no manifest entry for ${name}`);
  return e;
}

export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

export function hex16(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

export function rep(byte: number, n: number): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

/** Litestream-style NoChecksum header with overridable fields. */
export function header(over: Partial<LtxHeader> = {}): LtxHeader {
  return {
    flags: 2,
    pageSize: 4096,
    commit: 1,
    minTXID: 1n,
    maxTXID: 1n,
    timestamp: 1000n,
    preApplyChecksum: 0n,
    walOffset: 0n,
    walSize: 0n,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
    ...over,
  };
}

/** Splits bytes into chunks of the given sizes (cycled), as a network stream might deliver them. */
export function* chunked(b: Uint8Array, sizes: readonly number[]): Generator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < b.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]);
    yield b.subarray(at, Math.min(b.length, at + n));
    at += n;
  }
}

export async function* asyncChunks(b: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  for (const c of chunked(b, sizes)) yield c;
}

/**
 * xorshift32 PRNG. Seeds come from WALSHIP_SEED when set so a failure printed as "seed=N" can be
 * replayed; otherwise each suite uses its fixed default.
 */
export class Rng {
  private s: number;

  constructor(readonly seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(p = 0.5): boolean {
    return this.next() / 0x100000000 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

export function seedFor(defaultSeed: number): number {
  const env = process.env.WALSHIP_SEED;
  return env ? Number(env) >>> 0 : defaultSeed;
}

/** Runs a property body, re-throwing failures with the seed and iteration that reproduce them. */
export async function withSeed(seed: number, body: (rng: Rng) => Promise<void> | void): Promise<void> {
  const rng = new Rng(seed);
  try {
    await body(rng);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`property failed with seed=${seed} (rerun with WALSHIP_SEED=${seed}): ${msg}`, {
      cause: e,
    });
  }
}

/** Page content that compresses somewhat, like SQLite b-tree pages with repeated keys and free space. */
export function textLikePage(rng: Rng, n: number): Uint8Array {
  const words = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    " ",
    "\n",
  ];
  const b = new Uint8Array(n);
  let i = 0;
  const fill = rng.int(n);
  while (i < fill) {
    const w = rng.pick(words);
    for (let k = 0; k < w.length && i < fill; k++) b[i++] = w.charCodeAt(k);
  }
  return b;
}

/**
 * Rewrites the file checksum of a (deliberately modified) file so that a test reaches the check it aims
 * at instead of stopping at "file checksum mismatch". Walks frames the way §5.5 hashes them.
 */
export function reforge(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  const pageSize = v.getUint32(8);
  const crc = new Crc64();
  crc.update(out, 0, 100);
  let pos = 100;
  for (;;) {
    const pgno = v.getUint32(pos);
    const flags = v.getUint16(pos + 4);
    if (pgno === 0 && flags === 0) break;
    const data = new Uint8Array(pageSize);
    if (flags & 1) {
      const size = v.getUint32(pos + 6);
      crc.update(out, pos, pos + 10);
      decompressBlock(out.subarray(pos + 10, pos + 10 + size), data);
      pos += 10 + size;
    } else {
      const s = scanLz4Frame(out, pos + 6, out.length, pageSize, pos + 6);
      if (!s.done) throw new Error("reforge: truncated legacy frame");
      crc.update(out, pos, pos + 6);
      decompressFrame(out.subarray(pos + 6, pos + 6 + s.length), data);
      pos += 6 + s.length;
    }
    crc.update(data);
  }
  crc.update(out, pos, out.length - 8);
  v.setBigUint64(out.length - 8, CHECKSUM_FLAG | crc.digest());
  return out;
}

/** Sets a big-endian field at offset and re-forges the checksum. */
export function patch(
  bytes: Uint8Array,
  offset: number,
  value: number | bigint,
  width: 2 | 4 | 8,
): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  if (width === 2) v.setUint16(offset, Number(value));
  else if (width === 4) v.setUint32(offset, Number(value));
  else v.setBigUint64(offset, BigInt(value));
  return reforge(out);
}
