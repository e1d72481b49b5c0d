/**
 * `npm run bench -- codec [--pages N] [--runs N] [--run-ms N]`: LTX encode and decode throughput on
 * 4 KiB pages (SQLite-like text and incompressible random data, files of 1024 pages by default), plus the
 * primitive numbers from bench/codec-primitives.ts when that module is present. MB/s counts uncompressed
 * page bytes (10^6 bytes per MB), best of several timed runs after a warm-up, one core.
 */
import { availableParallelism, cpus, platform, release, totalmem } from "node:os";
import { crc64 } from "../src/ltx/crc64.js";
import { decodeLtx, LtxDecoder } from "../src/ltx/decoder.js";
import { LtxEncoder } from "../src/ltx/encoder.js";
import { HEADER_FLAG_NO_CHECKSUM, type LtxHeader } from "../src/ltx/header.js";

const PAGE = 4096;
/** Goals from the project brief, in MB/s. */
const GOALS = { encode: 250, decode: 400, crc: 700 } as const;

interface Row {
  name: string;
  mbps: number;
  goal?: number;
  met?: boolean;
}

interface PrimitivesModule {
  benchPrimitives(opts?: { runMs?: number; runs?: number }): Promise<Array<{ name: string; mbps: number }>>;
}

function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Rows of short words with numbers and free space, roughly how table leaf pages compress (2-4×). */
function textPage(next: () => number): Uint8Array {
  const words = [
    "order",
    "invoice",
    "customer",
    "paid",
    "pending",
    "london",
    "paris",
    "alice",
    "bob",
    "the",
    "and",
  ];
  const page = new Uint8Array(PAGE);
  const fill = PAGE - 200 - (next() % 400);
  let i = PAGE;
  while (i > PAGE - fill) {
    const rec = `${words[next() % words.length]} ${words[next() % words.length]} ${next() % 100000};`;
    for (let k = rec.length - 1; k >= 0 && i > PAGE - fill; k--) page[--i] = rec.charCodeAt(k);
  }
  return page;
}

function randomPage(next: () => number): Uint8Array {
  const page = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) page[i] = next();
  return page;
}

function snapshotHeader(commit: number): LtxHeader {
  return {
    flags: HEADER_FLAG_NO_CHECKSUM,
    pageSize: PAGE,
    commit,
    minTXID: 1n,
    maxTXID: 1n,
    timestamp: 0n,
    preApplyChecksum: 0n,
    walOffset: 0n,
    walSize: 0n,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
  };
}

function encodeFile(pages: Uint8Array[]): Uint8Array[] {
  const enc = new LtxEncoder(snapshotHeader(pages.length));
  const parts = [enc.header()];
  for (let i = 0; i < pages.length; i++) parts.push(enc.encodePage(i + 1, pages[i]));
  parts.push(enc.finish().bytes);
  return parts;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function* slices(b: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < b.length; at += size) yield b.subarray(at, at + size);
}

/** Best MB/s of `runs` timed runs of about runMs each, after a warm-up; `bytes` is the work per call. */
async function measure(bytes: number, fn: () => unknown, runMs: number, runs: number): Promise<number> {
  const warmEnd = performance.now() + Math.min(300, runMs);
  while (performance.now() < warmEnd) await fn();
  let best = 0;
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < runMs) {
      await fn();
      n++;
      now = performance.now();
    }
    best = Math.max(best, (n * bytes) / ((now - start) / 1000) / 1e6);
  }
  return Math.round(best);
}

function flag(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bench codec: ${name} needs a positive number`);
  return v;
}

export async function runCodecBench(args: string[]): Promise<{ name: string; table: string; json: unknown }> {
  const nPages = flag(args, "--pages", 1024);
  const runs = flag(args, "--runs", 3);
  const runMs = flag(args, "--run-ms", 500);
  const next = xorshift(20240601);
  const corpora: Record<string, Uint8Array[]> = {
    text: Array.from({ length: nPages }, () => textPage(next)),
    random: Array.from({ length: nPages }, () => randomPage(next)),
  };
  const bytes = nPages * PAGE;
  const rows: Row[] = [];
  const sizes: Record<string, number> = {};
  for (const [kind, pages] of Object.entries(corpora)) {
    const file = concat(encodeFile(pages));
    sizes[kind] = file.length;
    rows.push({
      name: `ltx encode ${kind} 4K`,
      mbps: await measure(bytes, () => encodeFile(pages), runMs, runs),
      goal: GOALS.encode,
    });
    rows.push({
      name: `ltx decode ${kind} 4K`,
      mbps: await measure(bytes, () => decodeLtx(file), runMs, runs),
      goal: GOALS.decode,
    });
    rows.push({
      name: `ltx decode ${kind} 4K (64 KiB chunks)`,
      mbps: await measure(bytes, () => new LtxDecoder(slices(file, 65536)).finish(), runMs, runs),
    });
  }
  const all = corpora.text.concat(corpora.random);
  rows.push({
    name: "crc64 4K",
    mbps: await measure(
      all.length * PAGE,
      () => {
        for (const p of all) crc64(p);
      },
      runMs,
      runs,
    ),
    goal: GOALS.crc,
  });
  for (const r of rows) if (r.goal !== undefined) r.met = r.mbps >= r.goal;

  let primitives: Array<{ name: string; mbps: number }> | null = null;
  try {
    const spec = "./codec-primitives.js";
    const mod = (await import(spec)) as Partial<PrimitivesModule>;
    if (typeof mod.benchPrimitives === "function") primitives = await mod.benchPrimitives({ runMs, runs });
  } catch {
    primitives = null;
  }

  const cpu = cpus()[0]?.model ?? "unknown";
  const machine = {
    cpu,
    cores: availableParallelism(),
    node: process.version,
    os: `${platform()} ${release()}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
  const width =
    Math.max(...rows.map((r) => r.name.length), ...(primitives ?? []).map((p) => p.name.length)) + 2;
  const lines = [
    `codec benchmark: ${nPages} pages × 4 KiB per file (text file ${sizes.text} B, random file ${sizes.random} B), best of ${runs} × ${runMs} ms`,
    `machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${machine.os}`,
    "",
    `${"case".padEnd(width)}${"MB/s".padStart(8)}${"goal".padStart(8)}  met`,
  ];
  for (const r of rows) {
    const goal = r.goal === undefined ? "" : String(r.goal);
    const met = r.met === undefined ? "" : r.met ? "yes" : "NO";
    lines.push(`${r.name.padEnd(width)}${String(r.mbps).padStart(8)}${goal.padStart(8)}  ${met}`);
  }
  if (primitives) {
    lines.push("", "primitives (bench/codec-primitives.ts):");
    for (const p of primitives) lines.push(`${p.name.padEnd(width)}${String(p.mbps).padStart(8)}`);
  } else {
    lines.push("", "primitives: bench/codec-primitives.ts not available, skipped");
  }
  return {
    name: "codec",
    table: lines.join("\n"),
    json: {
      machine,
      pages: nPages,
      pageSize: PAGE,
      fileBytes: sizes,
      goals: GOALS,
      results: rows,
      primitives,
    },
  };
}
