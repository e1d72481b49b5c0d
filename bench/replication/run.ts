/**
 * One tool against one workload: fresh S3 server (versitygw on loopback) and bucket, the counting proxy in
 * front of it, the writer process(es), the tool process; then measurements, the lag decode and the
 * zero-loss restore check.
 *
 * Phases (times on the tool sampler's clock):
 *   startup  tool started -> every database has at least one object on the server
 *   idle     2 s with no writes (idle RSS)
 *   window   writers write for `duration` (CPU, request rates, steady RSS = median RSS of the 2nd half)
 *   settle   `settle` with no writes, so the last writes ship
 *   drain    SIGTERM -> exit
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { startS3Server } from "../../test/helpers/s3-server.js";
import type { BenchConfig, ToolName } from "./config.js";
import { computeLag, decodeSpool, type LagResult, ListingProbe } from "./lag.js";
import { machineLoad, ProcSampler } from "./proc.js";
import { CountingProxy, type Counts } from "./proxy.js";
import { median, round } from "./stats.js";
import { replicaPath, s3Url, startTool } from "./tools.js";
import { type LossResult, verifyAll } from "./verify.js";
import type { WriterResult, WriterSpec } from "./writer.js";

export interface ToolRunResult {
  tool: ToolName;
  /** When and on which walship build this run happened (runs of one cell can be merged from re-runs). */
  ranAt?: { date: string; walshipDist: string; gitRevision: string };
  ok: boolean;
  problems: string[];
  command: string;
  startupMs: number;
  windowMs: number;
  rssMiB: { idle: number; steady: number; peak: number; maxSampled: number };
  cpu: { windowS: number; windowPct: number; startupS: number; drainS: number; totalS: number };
  writer: {
    processes: number;
    targetTxPerS: number;
    achievedTxPerS: number;
    rowsCommitted: number;
    cpuS: number;
    cpuPct: number;
    maxBehindMs: number;
    p99BehindMs: number;
  };
  requests: {
    startup: Counts;
    window: Counts;
    settleAndDrain: Counts;
    windowPerSecond: Counts;
    windowPerDbPerMinute: Counts;
    errors: Counts;
    bytesUp: number;
    bytesDown: number;
  };
  lag: LagResult;
  listingProbe: ReturnType<ListingProbe["compare"]> | null;
  stop: { ms: number; code: number | null; signal: string | null };
  loss: LossResult | null;
  load: { before: number; after: number; machineBusyPctDuringWindow: number };
  /** RSS (MiB) once a second from tool start, for charts. */
  rssSeries: Array<[number, number]>;
  logTail: string;
}

function delta(a: Counts, b: Counts): Counts {
  const out: Counts = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

function scale(c: Counts, f: number, digits = 2): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(c)) out[k] = round(v * f, digits);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WriterProc {
  child: ChildProcess;
  spec: WriterSpec;
  sampler: ProcSampler | null;
  wait(type: string): Promise<void>;
}

export function forkWriter(spec: WriterSpec): WriterProc {
  const child = fork(join(import.meta.dirname, "writer.ts"), [JSON.stringify(spec)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const seen = new Set<string>();
  const waiters = new Map<string, () => void>();
  let failure: Error | null = null;
  child.on("message", (m: { type: string; message?: string }) => {
    if (m.type === "error") failure = new Error(`writer failed: ${m.message}`);
    seen.add(m.type);
    waiters.get(m.type)?.();
  });
  child.on("exit", (code) => {
    if (!seen.has("done")) failure ??= new Error(`writer exited with ${code} before finishing`);
    for (const w of waiters.values()) w();
  });
  return {
    child,
    spec,
    sampler: null,
    wait(type: string) {
      return new Promise<void>((resolve, reject) => {
        const check = () => (failure ? reject(failure) : seen.has(type) ? resolve() : undefined);
        waiters.set(type, check);
        check();
      });
    },
  };
}

export async function runTool(
  cfg: BenchConfig,
  tool: ToolName,
  log: (s: string) => void,
): Promise<ToolRunResult> {
  const work = join(tmpdir(), `walship-bench-${cfg.name}-${tool}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, "dbs"), { recursive: true });
  mkdirSync(join(work, "restored"), { recursive: true });
  const problems: string[] = [];
  const s3 = await startS3Server();
  if ("skip" in s3) throw new Error(s3.skip);
  const upstreamPort = Number(new URL(s3.endpoint).port);
  const proxy = new CountingProxy(upstreamPort, join(work, "spool.bin"), s3.bucket);
  await proxy.start();
  const dbs = Array.from({ length: cfg.databases }, (_, i) => join(work, "dbs", `${replicaPath(i)}.db`));
  const keyOf = new Map(dbs.map((d, i) => [d, replicaPath(i)]));
  const writers: WriterProc[] = [];
  let toolProc: ReturnType<typeof startTool> | null = null;
  try {
    // Writers: databases split round-robin between the writer processes.
    for (let w = 0; w < cfg.writers; w++) {
      const mine = dbs.filter((_, i) => i % cfg.writers === w);
      if (mine.length === 0) continue;
      const spec: WriterSpec = {
        dbs: mine,
        rate: cfg.rate,
        rowsPerTx: cfg.rowsPerTx,
        rowBytes: cfg.rowBytes,
        durationMs: cfg.durationMs,
        outFile: join(work, `writer-${w}.json`),
      };
      writers.push(forkWriter(spec));
    }
    for (const w of writers) await w.wait("started");
    for (const w of writers) w.child.send({ type: "prepare" });
    for (const w of writers) await w.wait("ready");

    const loadBefore = machineLoad();
    toolProc = startTool(tool, {
      dbs,
      bucket: s3.bucket,
      endpoint: proxy.endpoint,
      syncIntervalMs: cfg.syncIntervalMs,
      workDir: work,
    });
    const tp = toolProc;
    const sampler = new ProcSampler(tp.pid, 200).start();
    let exitedEarly = false;
    void tp.exited.then(() => {
      exitedEarly = true;
    });
    log(`  ${tool}: started pid ${tp.pid}; waiting for the first object of ${dbs.length} databases`);
    // Startup: every database has an object on the server.
    const startupDeadline = Date.now() + Math.max(60_000, dbs.length * 300);
    const have = new Set<string>();
    let ackSeen = 0;
    while (have.size < dbs.length) {
      for (; ackSeen < proxy.acks.length; ackSeen++) have.add(proxy.acks[ackSeen]!.key.split("/")[0]!);
      if (exitedEarly) throw new Error(`${tool} exited during startup: ${tp.logTail()}`);
      if (Date.now() > startupDeadline)
        throw new Error(`${tool}: only ${have.size}/${dbs.length} databases had an object after startup`);
      await sleep(100);
    }
    const startupMs = sampler.now();
    const cStartup = proxy.snapshot();
    await sleep(2000);
    const idle = sampler.sample();
    const probe = cfg.lagProbe
      ? new ListingProbe(new S3ReplicaClient({ ...s3.clientOptions(replicaPath(0)) }), replicaPath(0))
      : null;
    probe?.start();
    for (const w of writers) w.sampler = new ProcSampler(w.child.pid!, 1000).start();
    const cGo = proxy.snapshot();
    const tGo = sampler.now();
    const mGo = machineLoad();
    log(`  ${tool}: startup ${startupMs} ms; writing ${cfg.durationMs / 1000} s`);
    for (const w of writers) w.child.send({ type: "go" });
    for (const w of writers) await w.wait("done");
    const tEnd = sampler.now();
    const mEnd = machineLoad();
    const cEnd = proxy.snapshot();
    for (const w of writers) w.sampler?.sample();
    await sleep(cfg.settleMs);
    await probe?.stop();
    sampler.sample();
    const tStop = sampler.now();
    log(`  ${tool}: writes done; stopping`);
    const stop = await tp.stop();
    sampler.stop();
    const cFinal = proxy.snapshot();
    if (stop.code !== 0) problems.push(`${tool} exited with code ${stop.code} signal ${stop.signal}`);
    if (exitedEarly && stop.ms === 0) problems.push(`${tool} exited before it was stopped`);

    const results: WriterResult[] = writers.map(
      (w) => JSON.parse(readFileSync(w.spec.outFile, "utf8")) as WriterResult,
    );
    const writerCpu = writers.reduce((a, w) => a + (w.sampler?.last?.cpuS ?? 0), 0);
    for (const w of writers) w.sampler?.stop();
    const windowMs = tEnd - tGo;
    const txs = results.reduce((a, r) => a + r.txs, 0);
    const rows = results.reduce((a, r) => a + r.rows, 0);
    const writeMs = Math.max(...results.map((r) => r.endMs - r.startMs));

    log(`  ${tool}: decoding ${proxy.acks.length} uploaded objects`);
    const decoded = await decodeSpool(proxy.spoolPath, proxy.acks, proxy.parts);
    const lag = computeLag(results, (p) => keyOf.get(p) ?? "", decoded);
    if (lag.objectsUndecodable)
      problems.push(`${lag.objectsUndecodable} uploaded objects could not be decoded`);

    const second = sampler.between(tGo + windowMs / 2, tEnd).map((s) => s.rssKiB);
    const all = sampler.samples;
    const rssSeries: Array<[number, number]> = [];
    for (const s of all) {
      const sec = Math.floor(s.t / 1000);
      if (rssSeries.length === 0 || rssSeries[rssSeries.length - 1]![0] < sec)
        rssSeries.push([sec, round(s.rssKiB / 1024)]);
    }
    const cpuWindow = sampler.cpuBetween(tGo, tEnd);
    const cWindow = delta(cGo, cEnd);

    let loss: LossResult | null = null;
    if (cfg.verify) {
      log(`  ${tool}: restoring ${dbs.length} databases with ${tool}'s restore to check for missing rows`);
      const items = results.flatMap((r) =>
        r.dbs.map((d) => ({
          url: s3Url(s3.bucket, keyOf.get(d.path)!, s3.endpoint),
          out: join(work, "restored", `${keyOf.get(d.path)}.db`),
          lastId: d.lastIds[d.lastIds.length - 1] ?? 0,
        })),
      );
      loss = await verifyAll(tool, items, 4);
      if (loss.missingRows || loss.restoreFailures || loss.quickCheckFailures) {
        problems.push(
          `loss check: ${loss.missingRows} missing rows, ${loss.restoreFailures} failed restores, ${loss.quickCheckFailures} failed quick_check`,
        );
      }
    }
    const loadAfter = machineLoad();
    const sampledMax = all.reduce((a, s) => Math.max(a, s.rssKiB), 0);
    return {
      tool,
      ok: problems.length === 0,
      problems,
      command: `${tp.command.slice(0, 6).join(" ")}${tp.command.length > 6 ? ` ... (${tp.command.length} args)` : ""}`,
      startupMs,
      windowMs,
      rssMiB: {
        idle: round((idle?.rssKiB ?? 0) / 1024),
        steady: round(median(second.length ? second : all.map((s) => s.rssKiB)) / 1024),
        peak: round(sampler.hwmKiB / 1024),
        maxSampled: round(sampledMax / 1024),
      },
      cpu: {
        windowS: round(cpuWindow, 2),
        windowPct: round((cpuWindow / (windowMs / 1000)) * 100),
        startupS: round(sampler.cpuBetween(0, startupMs), 2),
        drainS: round(sampler.cpuBetween(tStop, sampler.now()), 2),
        totalS: round(sampler.last?.cpuS ?? 0, 2),
      },
      writer: {
        processes: writers.length,
        targetTxPerS: cfg.rate * cfg.databases,
        achievedTxPerS: round(txs / (writeMs / 1000)),
        rowsCommitted: rows,
        cpuS: round(writerCpu, 2),
        cpuPct: round((writerCpu / (windowMs / 1000)) * 100),
        maxBehindMs: round(Math.max(...results.map((r) => r.maxBehindMs))),
        p99BehindMs: round(Math.max(...results.map((r) => r.p99BehindMs))),
      },
      requests: {
        startup: cStartup,
        window: cWindow,
        settleAndDrain: delta(cEnd, cFinal),
        windowPerSecond: scale(cWindow, 1000 / windowMs),
        windowPerDbPerMinute: scale(cWindow, 60_000 / windowMs / cfg.databases),
        errors: proxy.errors,
        bytesUp: proxy.bytesUp,
        bytesDown: proxy.bytesDown,
      },
      lag,
      listingProbe: probe ? probe.compare(proxy.acks) : null,
      stop: { ms: stop.ms, code: stop.code, signal: stop.signal },
      loss,
      load: {
        before: loadBefore.load1,
        after: loadAfter.load1,
        machineBusyPctDuringWindow: round(
          ((mEnd.busyTicks - mGo.busyTicks) / Math.max(1, mEnd.totalTicks - mGo.totalTicks)) * 100,
        ),
      },
      rssSeries,
      logTail: tp.logTail().slice(-1500),
    };
  } finally {
    for (const w of writers) {
      w.sampler?.stop();
      if (w.child.exitCode === null) w.child.kill("SIGKILL");
    }
    if (toolProc && toolProc.child.exitCode === null && toolProc.child.signalCode === null) {
      toolProc.child.kill("SIGKILL");
    }
    await proxy.close();
    await s3.stop();
    if (!process.env.WALSHIP_BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  }
}
