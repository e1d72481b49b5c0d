/**
 * The soak: `walship watch` (the built CLI, a real process) replicates N databases while one writer
 * process commits to all of them; every SAMPLE_MS the harness reads walship's RSS (/proc/<pid>/status),
 * its open descriptors (/proc/<pid>/fd) and its V8 heap (heap-probe.mjs, loaded into walship with
 * NODE_OPTIONS). A leak shows as a trend, so the verdict is the least-squares slope over the second half
 * (the first half is warm-up: caches, connection pools, JIT), against per-resource thresholds. The slope
 * is taken of the floor (the minimum over ENVELOPE_SAMPLES consecutive samples): a leak raises the floor,
 * while a heap's GC saw-tooth or a descriptor open for one upload does not. At the end every database is
 * restored and checked against the model (test/chaos/model.ts).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { restore } from "../../src/restore/restore.js";
import { cliPath, repoRoot } from "../helpers/cli.js";
import { startS3Server } from "../helpers/s3-server.js";
import { checkState, SCHEMA } from "./model.js";

/** Sampling period (ms): 30 points a minute is enough for a slope and costs walship nothing. */
export const SAMPLE_MS = 2_000;
/**
 * Trend limits over the second half. walship's steady state is flat: RSS and heap move with allocator
 * noise and the GC saw-tooth (a few MiB either way, so the fitted slope of a one-minute window scatters by
 * about 1 MiB/min), and in a 2-minute run RSS is still finishing its climb to the plateau (up to ~2.5
 * MiB/min measured); descriptors do not move at all (one per database plus sockets). A real leak (64 KiB
 * per sync, a descriptor per upload) is tens of MiB or descriptors a minute at one sync per second per
 * database; the limits sit above the scatter of a 2-minute run so that CI does not flake, and a 30-minute
 * run measures the slope to a small fraction of them.
 */
export const RSS_SLOPE_LIMIT_MIB_PER_MIN = 4;
export const HEAP_SLOPE_LIMIT_MIB_PER_MIN = 2;
export const FD_SLOPE_LIMIT_PER_MIN = 0.5;
/** Descriptors the floor must gain over the second half before a slope counts as a leak. */
export const FD_MIN_RISE = 2;
/** Samples per floor window (10 s at SAMPLE_MS): longer than one upload or GC cycle. */
export const ENVELOPE_SAMPLES = 5;

/**
 * walship's configuration during a soak: every periodic activity (snapshots, three compaction levels,
 * retention deleting level-0 files and old snapshots) cycles within seconds. Each of them raises RSS a
 * step the first times it runs (the allocator keeps the pages) until it levels off, so all of them must
 * have run several times within the warm-up half even of a 2-minute run; and more activity is more
 * chance for a leak to show.
 */
function soakConfig(pairs: Array<[string, string]>): string {
  const dbs = pairs.map(([db, replica]) => `[[databases]]\npath = "${db}"\nreplica = "${replica}"\n`);
  return `[snapshot]
interval = "10s"

[checkpoint]
pages = 200

[compaction]
levels = ["2s", "6s", "12s"]

[retention]
l0 = "10s"
window = "30s"

[metrics]
enabled = false

${dbs.join("\n")}`;
}

const WRITER = join(repoRoot, "test", "chaos", "soak-writer.ts");
const PROBE = join(repoRoot, "test", "chaos", "heap-probe.mjs");
const MIB = 1024 * 1024;

export interface SoakOptions {
  minutes: number;
  dbs: number;
  backend: "s3" | "file";
  dir: string;
  /** Writer rate in transactions per second, over all databases. */
  txPerSecond?: number;
  log?: (line: string) => void;
}

export interface Sample {
  /** Seconds since walship started. */
  t: number;
  rssMiB: number;
  heapMiB: number | null;
  fds: number;
}

export interface Trend {
  /** Least-squares slope over the second half, per minute. */
  slopePerMin: number;
  limitPerMin: number;
  first: number;
  last: number;
  ok: boolean;
}

export interface SoakReport {
  minutes: number;
  dbs: number;
  backend: "s3" | "file";
  startedAt: string;
  node: string;
  samples: Sample[];
  trends: { rssMiB: Trend; heapMiB: Trend; fds: Trend };
  peak: { rssMiB: number; heapMiB: number; fds: number };
  transactions: number;
  restoresChecked: number;
  failures: string[];
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The rolling minimum of each point and the ENVELOPE_SAMPLES - 1 before it. */
export function floor(points: Array<[number, number]>): Array<[number, number]> {
  return points.map(([x], i) => [
    x,
    Math.min(...points.slice(Math.max(0, i - ENVELOPE_SAMPLES + 1), i + 1).map(([, y]) => y)),
  ]);
}

function trend(samples: Sample[], pick: (s: Sample) => number | null, limit: number, minRise = 0): Trend {
  const all = samples.flatMap((s): Array<[number, number]> => {
    const v = pick(s);
    return v === null ? [] : [[s.t / 60, v]];
  });
  const pts = floor(all).slice(Math.floor(all.length / 2));
  const k = slope(pts);
  const first = pts[0]?.[1] ?? 0;
  const last = pts[pts.length - 1]?.[1] ?? 0;
  return {
    slopePerMin: Math.round(k * 1000) / 1000,
    limitPerMin: limit,
    first,
    last,
    // A trend must also show in the floor's net change: one descriptor open at a late sample tilts the
    // fitted line of a short run past 0.5/min without anything growing.
    ok: k <= limit || last - first < minRise,
  };
}

function readProc(pid: number): { rssMiB: number; fds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    return { rssMiB: Math.round(rss * 100) / 100, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

function lastHeap(file: string): number | null {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const last = lines[lines.length - 1];
  if (!last) return null;
  return Math.round(((JSON.parse(last) as { heapUsed: number }).heapUsed / MIB) * 100) / 100;
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const report: SoakReport = {
    minutes: o.minutes,
    dbs: o.dbs,
    backend: o.backend,
    startedAt: new Date().toISOString(),
    node: process.version,
    samples: [],
    trends: {} as SoakReport["trends"],
    peak: { rssMiB: 0, heapMiB: 0, fds: 0 },
    transactions: 0,
    restoresChecked: 0,
    failures: [],
  };
  mkdirSync(o.dir, { recursive: true });
  const dbs = Array.from({ length: o.dbs }, (_, i) => join(o.dir, `db-${String(i).padStart(4, "0")}.db`));
  for (const p of dbs) {
    const d = new Database(p);
    d.pragma("journal_mode = WAL");
    d.exec(SCHEMA);
    d.close();
  }
  let url: (i: number) => string;
  let client: (i: number) => ReplicaClient;
  let env: NodeJS.ProcessEnv = {};
  let stopServer = async (): Promise<void> => {};
  if (o.backend === "s3") {
    const server = await startS3Server();
    if ("skip" in server) throw new Error(server.skip);
    stopServer = () => server.stop();
    url = (i) => server.url(`soak/db-${i}`);
    client = (i) => new S3ReplicaClient(server.clientOptions(`soak/db-${i}`));
    env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey };
  } else {
    url = (i) => join(o.dir, "replicas", `db-${i}`);
    client = (i) => new FileReplicaClient(url(i));
  }

  const probeFile = join(o.dir, "heap.jsonl");
  const config = join(o.dir, "walship.toml");
  writeFileSync(config, soakConfig(dbs.map((p, i) => [p, url(i)])));
  const watch = spawn(process.execPath, [process.env.WALSHIP_CLI ?? cliPath, "watch", "--config", config], {
    env: {
      ...process.env,
      ...env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${PROBE}`.trim(),
      SOAK_PROBE_FILE: probeFile,
      SOAK_PROBE_INTERVAL_MS: String(SAMPLE_MS / 2),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let watchErr = "";
  watch.stderr?.on("data", (d) => (watchErr = (watchErr + d).slice(-4000)));
  const watchExit = new Promise<number | null>((r) => watch.once("exit", (c) => r(c)));
  const writer = spawn(
    process.execPath,
    ["--import", "tsx", WRITER, String(o.txPerSecond ?? 10 * o.dbs), ...dbs],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let writerOut = "";
  writer.stdout?.on("data", (d) => (writerOut += d));
  const writerExit = new Promise<void>((r) => writer.once("exit", () => r()));

  const t0 = Date.now();
  const end = t0 + o.minutes * 60_000;
  try {
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      if (watch.exitCode !== null) throw new Error(`walship exited (${watch.exitCode}): ${watchErr}`);
      const p = readProc(watch.pid!);
      if (!p) continue;
      const s: Sample = { t: (Date.now() - t0) / 1000, ...p, heapMiB: lastHeap(probeFile) };
      report.samples.push(s);
      report.peak.rssMiB = Math.max(report.peak.rssMiB, s.rssMiB);
      report.peak.heapMiB = Math.max(report.peak.heapMiB, s.heapMiB ?? 0);
      report.peak.fds = Math.max(report.peak.fds, s.fds);
      if (report.samples.length % 30 === 0)
        log(`${Math.round(s.t)} s: rss ${s.rssMiB} MiB, heap ${s.heapMiB} MiB, fds ${s.fds}`);
    }
    writer.kill("SIGTERM");
    await writerExit;
    const last = (JSON.parse(writerOut.trim().split("\n").pop() ?? "{}") as { last?: number[] }).last ?? [];
    report.transactions = last.reduce((a, b) => a + b, 0);
    watch.kill("SIGTERM");
    const code = await watchExit;
    if (code !== 0)
      report.failures.push(`walship watch exited ${code} after SIGTERM: ${watchErr.slice(-1000)}`);
    report.trends = {
      rssMiB: trend(report.samples, (s) => s.rssMiB, RSS_SLOPE_LIMIT_MIB_PER_MIN),
      heapMiB: trend(report.samples, (s) => s.heapMiB, HEAP_SLOPE_LIMIT_MIB_PER_MIN),
      fds: trend(report.samples, (s) => s.fds, FD_SLOPE_LIMIT_PER_MIN, FD_MIN_RISE),
    };
    for (const [k, t] of Object.entries(report.trends)) {
      if (!t.ok)
        report.failures.push(`${k} grows ${t.slopePerMin}/min over the second half (limit ${t.limitPerMin})`);
    }
    // Everything committed was drained at SIGTERM: each database restores to its writer's last commit.
    for (let i = 0; i < dbs.length; i++) {
      const out = join(o.dir, "restored", `db-${i}.db`);
      const c = client(i);
      try {
        await restore(c, { output: out, force: true });
        const m = checkState(out);
        if (m !== (last[i] ?? 0))
          report.failures.push(`db-${i}: restored ${m} transactions, committed ${last[i]}`);
        report.restoresChecked++;
      } catch (e) {
        report.failures.push(`db-${i}: ${(e as Error).message}`);
      } finally {
        await c.close();
      }
    }
  } catch (e) {
    report.failures.push((e as Error).message);
  } finally {
    writer.kill("SIGKILL");
    watch.kill("SIGKILL");
    await stopServer();
    rmSync(o.dir, { recursive: true, force: true });
  }
  return report;
}
