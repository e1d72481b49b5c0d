/**
 * Where walship's memory goes: runs the real `walship watch` CLI (from dist/) over N databases against a
 * fresh versitygw, with the benchmark's writer (10 tx/s of 1 KiB rows per database by default), and breaks
 * the CLI's RSS down from inside the process: a hook loaded with `--import` samples process.memoryUsage(),
 * V8 heap spaces and /proc/self/status (anonymous / file / shmem RSS) every second. The rest of RSS that
 * is not V8 heap is native: SQLite page caches, malloc arenas, thread stacks, code.
 *
 *   node --import tsx bench/memory-probe.ts --dbs 100 [--rate 10] [--idle 5] [--duration 40]
 *     [--node-args=--max-semi-space-size=1] [--env MALLOC_ARENA_MAX=2] [--snapshot-at 30] [--keep]
 *     [--wrap "heaptrack -o /tmp/ht"]   (a wrapper command; the node process below it is measured)
 *     [--config]   (databases in a walship.toml instead of the command line, which heaptrack cannot take)
 *     [--levels 24h]   (compaction levels, as in the benchmark's Litestream config; implies --config)
 *     [--dist /tmp/other-build/dist]   (another build of walship, for before/after runs on one probe)
 *
 * Prints one JSON line with idle / steady (median of the second half of the write window) / peak values
 * and the replicas' lag (from each database's status.json), so runs before and after a change compare
 * on the same probe. Not a replacement for bench/main.ts: no Litestream, no per-write lag, no restore.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type S3TestServer, startS3Server } from "../test/helpers/s3-server.js";
import { readProc } from "./replication/proc.js";
import { S3_ENV, s3Url } from "./replication/tools.js";
import type { WriterSpec } from "./replication/writer.js";

const { values } = parseArgs({
  options: {
    dbs: { type: "string", default: "100" },
    rate: { type: "string", default: "10" },
    idle: { type: "string", default: "5" },
    duration: { type: "string", default: "40" },
    "node-args": { type: "string", default: "" },
    env: { type: "string", multiple: true, default: [] },
    "snapshot-at": { type: "string" },
    "walship-args": { type: "string", default: "" },
    keep: { type: "boolean", default: false },
    label: { type: "string", default: "" },
    wrap: { type: "string", default: "" },
    config: { type: "boolean", default: false },
    levels: { type: "string" },
    dist: { type: "string", default: join(import.meta.dirname, "..", "dist") },
  },
});
const N = Number(values.dbs);
const RATE = Number(values.rate);
const IDLE_S = Number(values.idle);
const DURATION_S = Number(values.duration);

/** Sampling period of the in-process hook (ms): fine enough for a 40 s window, cheap at 1000 databases. */
const HOOK_INTERVAL_MS = 1000;

const HOOK = `
import { appendFileSync, readFileSync } from "node:fs";
import v8 from "node:v8";
const out = process.env.WALSHIP_PROBE_OUT;
const kib = (s, k) => Number(new RegExp(k + ":\\\\s+(\\\\d+)").exec(s)?.[1] ?? 0);
const t = setInterval(() => {
  const m = process.memoryUsage();
  const st = readFileSync("/proc/self/status", "utf8");
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = s.space_size;
  const res = {};
  for (const r of process.getActiveResourcesInfo()) res[r] = (res[r] ?? 0) + 1;
  appendFileSync(out, JSON.stringify({ t: Date.now(), rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed,
    external: m.external, arrayBuffers: m.arrayBuffers, rssAnon: kib(st, "RssAnon") * 1024,
    rssFile: kib(st, "RssFile") * 1024, rssShmem: kib(st, "RssShmem") * 1024, threads: kib(st, "Threads"),
    spaces, res }) + "\\n");
}, ${HOOK_INTERVAL_MS});
t.unref();
// Optional: where large typed arrays are created (bytes per call site), written at exit.
if (process.env.WALSHIP_PROBE_ALLOCS) {
  const sites = new Map();
  const Orig = globalThis.Uint8Array;
  globalThis.Uint8Array = new Proxy(Orig, {
    construct(target, args, nt) {
      const a = Reflect.construct(target, args, nt);
      if (typeof args[0] === "number" && a.byteLength >= 4096) {
        const NL = String.fromCharCode(10);
        const st = (new Error().stack ?? "").split(NL).slice(2, 6).map((l) => l.trim().replace("at ", "").replace("file:///work/main/dist/", "")).join(" < ");
        const e = sites.get(st) ?? { n: 0, bytes: 0 };
        e.n++; e.bytes += a.byteLength; sites.set(st, e);
      }
      return a;
    },
  });
  process.on("exit", () => {
    const rows = [...sites.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 25);
    const NL = String.fromCharCode(10);
    appendFileSync(process.env.WALSHIP_PROBE_ALLOCS, rows.map(([k, v]) => (v.bytes / 1048576).toFixed(1) + " MiB " + v.n + " " + k).join(NL) + NL);
  });
}
`;

interface HookSample {
  t: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
  threads: number;
  spaces: Record<string, number>;
  res: Record<string, number>;
}

const MiB = 1024 * 1024;
const r1 = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]!;
}

function forkWriter(spec: WriterSpec): { child: ChildProcess; wait(type: string): Promise<void> } {
  const child = fork(join(import.meta.dirname, "replication", "writer.ts"), [JSON.stringify(spec)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const seen = new Set<string>();
  const waiters: Array<{ type: string; resolve: () => void }> = [];
  child.on("message", (m: { type: string; message?: string }) => {
    if (m.type === "error") throw new Error(`writer: ${m.message}`);
    seen.add(m.type);
    for (const w of waiters.filter((x) => x.type === m.type)) w.resolve();
  });
  return {
    child,
    wait: (type) =>
      seen.has(type) ? Promise.resolve() : new Promise((resolve) => waiters.push({ type, resolve })),
  };
}

/**
 * From each database's status.json: the replica's lag as walship reports it (time since the oldest
 * captured transaction not yet uploaded), and how long ago the last capture ran, which grows when
 * captures themselves fall behind (walship's own lag figure cannot see that).
 */
function lagNow(dbs: string[]): {
  median: number;
  max: number;
  sinceCaptureMedian: number;
  sinceCaptureP90: number;
} {
  const lags: number[] = [];
  const since: number[] = [];
  const now = Date.now();
  for (const db of dbs) {
    const dir = join(db, "..", `.${db.split("/").pop()}-walship`);
    try {
      const st = JSON.parse(readFileSync(join(dir, "status.json"), "utf8")) as {
        lagSeconds: number;
        lastSyncAt: number | null;
      };
      lags.push(st.lagSeconds);
      if (st.lastSyncAt) since.push((now - st.lastSyncAt) / 1000);
    } catch {}
  }
  return {
    median: median(lags),
    max: lags.length ? Math.max(...lags) : 0,
    sinceCaptureMedian: median(since),
    sinceCaptureP90: quantile(since, 0.9),
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "walship-memprobe-"));
  const s3 = await startS3Server();
  if ("skip" in s3) throw new Error(s3.skip);
  const server: S3TestServer = s3;
  const dbDir = join(work, "dbs");
  mkdirSync(dbDir);
  const dbs = Array.from({ length: N }, (_, i) => join(dbDir, `db-${String(i).padStart(4, "0")}.db`));
  const writer = forkWriter({
    dbs,
    rate: RATE,
    rowsPerTx: 1,
    rowBytes: 1024,
    durationMs: DURATION_S * 1000,
    outFile: join(work, "writer.json"),
  });
  let tool: ChildProcess | null = null;
  try {
    await writer.wait("started");
    writer.child.send({ type: "prepare" });
    await writer.wait("ready");

    const hook = join(work, "hook.mjs");
    writeFileSync(hook, HOOK);
    const samplesFile = join(work, "samples.jsonl");
    const args = [...values["node-args"].split(" ").filter(Boolean), "--import", hook];
    args.push(join(values.dist, "cli", "main.js"), "watch");
    const urls = dbs.map((_, i) => s3Url(server.bucket, `db-${i}`, server.endpoint));
    if (values.config || values.levels) {
      const levels = values.levels ? `[compaction]\nlevels = ["${values.levels}"]\n\n` : "";
      const toml =
        levels + dbs.map((db, i) => `[[databases]]\npath = "${db}"\nreplica = "${urls[i]}"\n`).join("\n");
      writeFileSync(join(work, "walship.toml"), toml);
      args.push("--config", join(work, "walship.toml"));
    } else {
      for (const [i, db] of dbs.entries()) args.push(db, urls[i]!);
    }
    args.push("--sync-interval", "1s", "--snapshot-interval", "24h", "--log-level", "warn", "--no-metrics");
    args.push(...values["walship-args"].split(" ").filter(Boolean));
    const extraEnv = Object.fromEntries(values.env.map((kv) => kv.split("=", 2) as [string, string]));
    const wrap = values.wrap.split(" ").filter(Boolean);
    tool = spawn(
      wrap[0] ?? process.execPath,
      wrap.length ? [...wrap.slice(1), process.execPath, ...args] : args,
      {
        env: { ...process.env, ...S3_ENV, ...extraEnv, WALSHIP_PROBE_OUT: samplesFile },
        stdio: ["ignore", "ignore", "pipe"],
        // Heap snapshots (--heapsnapshot-signal=SIGUSR2 in --node-args, with --snapshot-at) land here.
        cwd: work,
      },
    );
    let log = "";
    tool.stderr!.on("data", (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    const pid = wrap.length
      ? await nodeBelow(tool.pid!).catch((e) => {
          throw new Error(`${e.message}: ${log}`);
        })
      : tool.pid!;
    const t0 = Date.now();
    // Started = every database has written its status file once (start captures and snapshots first).
    while (dbs.some((db) => !statusExists(db))) {
      if (tool.exitCode !== null) throw new Error(`walship exited: ${log}`);
      await sleep(500);
    }
    const startS = (Date.now() - t0) / 1000;
    await sleep(IDLE_S * 1000);
    const idle = readProc(pid)!;
    const goAt = Date.now();
    writer.child.send({ type: "go" });
    const lags: Array<{ t: number } & ReturnType<typeof lagNow>> = [];
    const cpu0 = idle.cpuS;
    let snapshotDone = false;
    const done = writer.wait("done");
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    while (!finished) {
      await sleep(1000);
      lags.push({ t: Date.now() - goAt, ...lagNow(dbs) });
      const at = values["snapshot-at"];
      if (at && !snapshotDone && Date.now() - goAt >= Number(at) * 1000) {
        snapshotDone = true;
        process.kill(pid, "SIGUSR2");
      }
    }
    const endAt = Date.now();
    const after = readProc(pid)!;
    // Kept for an offline look at which mappings hold the anonymous memory (malloc arenas vs V8 pages).
    writeFileSync(join(work, "smaps"), readFileSync(`/proc/${pid}/smaps`));
    process.kill(pid, "SIGTERM");
    const exit = await new Promise<number | null>((r) => tool!.on("exit", (c) => r(c)));
    const samples = readFileSync(samplesFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as HookSample);
    const mid = goAt + (endAt - goAt) / 2;
    const steady = samples.filter((s) => s.t >= mid && s.t <= endAt);
    const idleS = samples.filter((s) => s.t < goAt).slice(-1);
    const med = (k: keyof HookSample, set: HookSample[]) => r1(median(set.map((s) => s[k] as number)) / MiB);
    const breakdown = (set: HookSample[]) => ({
      rss: med("rss", set),
      heapTotal: med("heapTotal", set),
      heapUsed: med("heapUsed", set),
      external: med("external", set),
      arrayBuffers: med("arrayBuffers", set),
      rssAnon: med("rssAnon", set),
      rssFile: med("rssFile", set),
      rssShmem: med("rssShmem", set),
      newSpace: r1(median(set.map((s) => s.spaces.new_space ?? 0)) / MiB),
      oldSpace: r1(median(set.map((s) => s.spaces.old_space ?? 0)) / MiB),
      threads: median(set.map((s) => s.threads)),
    });
    const secondHalf = lags.filter((l) => l.t >= (endAt - goAt) / 2);
    const wr = JSON.parse(readFileSync(join(work, "writer.json"), "utf8")) as {
      txs: number;
      endMs: number;
      startMs: number;
    };
    const result = {
      label: values.label,
      dist: values.dist,
      dbs: N,
      rate: RATE,
      nodeArgs: values["node-args"],
      env: values.env,
      load1Before: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
      startS: r1(startS),
      idleRssMiB: r1(idle.rssKiB / 1024),
      steady: breakdown(steady),
      idle: breakdown(idleS),
      peakRssMiB: r1(after.hwmKiB / 1024),
      cpuPct: r1(((after.cpuS - cpu0) / ((endAt - goAt) / 1000)) * 100),
      lagMedianS: r1(median(secondHalf.map((l) => l.median))),
      lagMaxP90S: r1(
        quantile(
          secondHalf.map((l) => l.max),
          0.9,
        ),
      ),
      sinceCaptureMedianS: r1(median(secondHalf.map((l) => l.sinceCaptureMedian))),
      sinceCaptureP90S: r1(median(secondHalf.map((l) => l.sinceCaptureP90))),
      writerTxPerS: Math.round(wr.txs / ((wr.endMs - wr.startMs) / 1000)),
      resources: steady[steady.length - 1]?.res,
      exit,
      work,
    };
    console.log(JSON.stringify(result));
  } finally {
    if (tool && tool.exitCode === null) tool.kill("SIGKILL");
    writer.child.kill();
    await server.stop();
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }
}

/** The node process started by a wrapper (the first descendant named node). */
async function nodeBelow(root: number): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const todo = [root];
    while (todo.length) {
      const p = todo.shift()!;
      try {
        if (p !== root && readFileSync(`/proc/${p}/comm`, "utf8").trim() === "node") return p;
        const kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(" ").filter(Boolean);
        todo.push(...kids.map(Number));
      } catch {}
    }
    await sleep(100);
  }
  throw new Error(`no node process below the wrapper (pid ${root})`);
}

function statusExists(db: string): boolean {
  try {
    readFileSync(join(db, "..", `.${db.split("/").pop()}-walship`, "status.json"));
    return true;
  } catch {
    return false;
  }
}

await main();
