/**
 * Throughput of the codec primitives (CRC-64, xxh32, LZ4 block compress/decompress) on 4 KiB pages, for
 * walship's own TypeScript code and for lz4js / lz4-napi as the comparison points behind
 * docs/dependencies.md. Every figure is MB/s (10^6 bytes) of uncompressed input on one core, the best
 * of several ~0.5 s runs after a warm-up.
 *
 * Ad hoc: node --import tsx -e "import('./bench/codec-primitives.ts').then(async m=>console.table(await m.benchPrimitives()))"
 */
import { createRequire } from "node:module";
import { compressSync, uncompressSync } from "lz4-napi";
import { crc64 } from "../src/ltx/crc64.js";
import { compressBlock, compressBound, decompressBlock } from "../src/ltx/lz4.js";
import { xxh32 } from "../src/ltx/xxh32.js";

/** The subset of lz4js@0.2.0 measured here; the package ships no type declarations. */
interface Lz4js {
  compressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    hashTable: Uint32Array,
  ): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}

export interface PrimitiveResult {
  name: string;
  mbps: number;
}

export interface BenchPrimitivesOptions {
  /** Length of one timed run in milliseconds (default 500). */
  runMs?: number;
  /** Timed runs per primitive; the best is reported (default 3). */
  runs?: number;
  /** Restrict to primitives whose name contains one of these strings. */
  only?: string[];
}

const PAGE = 4096;
const PAGES = 64; // 256 KiB of input: several distinct pages, still cache-resident like a hot encode loop.

function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const WORDS =
  "alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent victor walter order invoice customer product shipped pending paid refund street avenue road london paris berlin madrid rome tokyo the of and to in is it that was for on are with as be at by this from or have an which one you were all there would their".split(
    " ",
  );

/**
 * A table-b-tree leaf page as SQLite lays it out: an 8-byte header, the cell-pointer array, free zeros,
 * then records packed from the end, each a varint header, integers and short texts. Compresses ~2-4x,
 * like real application tables.
 */
export function makeSqliteLikePage(next: () => number, size = PAGE): Uint8Array {
  const page = new Uint8Array(size);
  page[0] = 0x0d;
  const enc = new TextEncoder();
  let end = size;
  let cells = 0;
  let rowid = 1000 + (next() % 100000);
  for (;;) {
    const text = `${WORDS[next() % WORDS.length]} ${WORDS[next() % WORDS.length]} ${next() % 10000}`;
    const email = enc.encode(`${WORDS[next() % WORDS.length]}.${next() % 1000}@example.com`);
    const body = enc.encode(text);
    const rec = new Uint8Array(16 + body.length + email.length);
    let o = 0;
    rec[o++] = rec.length - 3; // payload length
    rec[o++] = rowid++ & 0x7f; // rowid (1-byte varint)
    rec[o++] = 6; // record header length
    rec[o++] = 4; // 32-bit int
    rec[o++] = 13 + body.length * 2; // text
    rec[o++] = 13 + email.length * 2; // text
    rec[o++] = 7; // float
    rec[o++] = 1; // small int
    const amount = next();
    rec[o++] = amount >>> 24;
    rec[o++] = amount >>> 16;
    rec[o++] = amount >>> 8;
    rec[o++] = amount;
    rec.set(body, o);
    o += body.length;
    rec.set(email, o);
    o += email.length;
    rec[o++] = 0x40;
    rec[o++] = 0x59;
    rec[o++] = next() % 256;
    rec[o++] = next() % 2;
    if (end - rec.length < 8 + 2 * (cells + 1) + 200) break; // leave some free space, like real pages
    end -= rec.length;
    page.set(rec.subarray(0, o), end);
    page[8 + 2 * cells] = end >>> 8;
    page[9 + 2 * cells] = end;
    cells++;
  }
  page[3] = cells >>> 8;
  page[4] = cells;
  page[5] = end >>> 8;
  page[6] = end;
  return page;
}

export function makeRandomPage(next: () => number, size = PAGE): Uint8Array {
  const page = new Uint8Array(size);
  for (let i = 0; i < size; i++) page[i] = next();
  return page;
}

/** Runs fn (which processes `bytes` bytes) for runs x runMs after a warm-up; returns the best MB/s. */
function measure(bytes: number, fn: () => void, runMs: number, runs: number): number {
  const warmEnd = performance.now() + Math.min(300, runMs);
  while (performance.now() < warmEnd) fn();
  let best = 0;
  for (let r = 0; r < runs; r++) {
    let iterations = 0;
    const start = performance.now();
    let now = start;
    while (now - start < runMs) {
      fn();
      iterations++;
      now = performance.now();
    }
    best = Math.max(best, (iterations * bytes) / ((now - start) / 1000) / 1e6);
  }
  return Math.round(best);
}

export async function benchPrimitives(opts: BenchPrimitivesOptions = {}): Promise<PrimitiveResult[]> {
  const runMs = opts.runMs ?? 500;
  const runs = opts.runs ?? 3;
  const lz4js = createRequire(import.meta.url)("lz4js") as Lz4js;
  const next = rng(42);
  const corpora: Record<string, Uint8Array[]> = {
    text: Array.from({ length: PAGES }, () => makeSqliteLikePage(next)),
    random: Array.from({ length: PAGES }, () => makeRandomPage(next)),
  };
  const total = PAGES * PAGE;
  const scratch = new Uint8Array(compressBound(PAGE) + 64);
  const out = new Uint8Array(PAGE);
  const jsTable = new Uint32Array(1 << 16);

  const cases: Array<[string, () => void]> = [];
  const all = corpora.text.concat(corpora.random);
  cases.push([
    "crc64 (walship)",
    () => {
      for (const p of all) crc64(p);
    },
  ]);
  cases.push([
    "xxh32 (walship)",
    () => {
      for (const p of all) xxh32(p);
    },
  ]);
  for (const kind of ["text", "random"]) {
    const pages = corpora[kind];
    const ours = pages.map((p) => scratch.slice(0, compressBlock(p, scratch)));
    const js = pages.map((p, i) => {
      const n = lz4js.compressBlock(p, scratch, 0, PAGE, jsTable.fill(0));
      return n > 0 ? scratch.slice(0, n) : ours[i];
    });
    const napi = pages.map((p) => compressSync(Buffer.from(p)));
    cases.push([
      `compress ${kind} 4K (walship)`,
      () => {
        for (const p of pages) compressBlock(p, scratch);
      },
    ]);
    cases.push([
      `compress ${kind} 4K (lz4js)`,
      () => {
        // lz4js needs a zeroed table per block: with stale entries it finds almost no matches and
        // mostly returns 0 ("incompressible"), which measures nothing useful.
        for (const p of pages) lz4js.compressBlock(p, scratch, 0, PAGE, jsTable.fill(0));
      },
    ]);
    cases.push([
      `compress ${kind} 4K (lz4-napi)`,
      () => {
        for (const p of pages) compressSync(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
      },
    ]);
    cases.push([
      `decompress ${kind} 4K (walship)`,
      () => {
        for (const b of ours) decompressBlock(b, out);
      },
    ]);
    cases.push([
      `decompress ${kind} 4K (lz4js)`,
      () => {
        for (const b of js) lz4js.decompressBlock(b, out, 0, b.length, 0);
      },
    ]);
    cases.push([
      `decompress ${kind} 4K (lz4-napi)`,
      () => {
        for (const b of napi) uncompressSync(b);
      },
    ]);
    cases.push([
      `page encode compress+crc64 ${kind} 4K (walship)`,
      () => {
        for (const p of pages) {
          compressBlock(p, scratch);
          crc64(p);
        }
      },
    ]);
  }

  const results: PrimitiveResult[] = [];
  for (const [name, fn] of cases) {
    if (opts.only && !opts.only.some((s) => name.includes(s))) continue;
    const bytes = name.startsWith("crc64") || name.startsWith("xxh32") ? 2 * total : total;
    results.push({ name, mbps: measure(bytes, fn, runMs, runs) });
    // Yield between cases so a caller's timers and logging are not starved.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return results;
}
