/**
 * The request-budget run (`mode = "requests"`, bench/configs/requests.toml): storage requests per hour of
 * one idle database and one database written at `rate` transactions/s, for every tool at the settings a
 * user gets without tuning (walship `watch` with its default compaction and retention; Litestream v0.5.17
 * `replicate` with its default levels, snapshot and L0 retention), all tools in the same wall-clock window.
 *
 * Every (tool, database) pair talks to the one S3 server through its own counting proxy (each replica
 * URL names its proxy as the endpoint), so every request is attributable to a tool and a database without
 * parsing keys. The window is wall-clock time: compaction runs on wall-clock boundaries (30 s, 5 min, 1 h),
 * so simulated time would measure the schedule, not the tools. The rates are given for the whole window
 * and for the window after `warmup` (the start-up data has then been compacted through L1 and L2).
 *
 * walship also counts its own requests (walship_storage_requests_total on /metrics); the run scrapes it at
 * the end of the window and compares it with what its proxies saw since it started.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { litestreamEnv, toYaml } from "../../test/helpers/litestream.js";
import {
  type S3TestServer,
  startS3Server,
  TEST_ACCESS_KEY_ID,
  TEST_SECRET_ACCESS_KEY,
} from "../../test/helpers/s3-server.js";
import type { BenchConfig, ToolName } from "./config.js";
import { CountingProxy, type Counts, type KeyClass } from "./proxy.js";
import {
  BUDGET_KINDS,
  type BudgetCounts,
  type BudgetDbResult,
  type DbRole,
  normalize,
  parseWalshipRequests,
  perHour,
  type RequestBudgetResult,
  sub,
} from "./requests-types.js";
import { forkWriter } from "./run.js";
import { launch, litestreamBin, S3_ENV, s3Url, type ToolProcess, walshipCli } from "./tools.js";
import { type LossResult, verifyAll } from "./verify.js";
import type { WriterResult } from "./writer.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/** An idle database: a table with 100 rows (ids 1..100, as the loss check expects), then never written. */
function createIdleDb(path: string): void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL, at REAL NOT NULL)");
  const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(1024), ?)");
  db.transaction(() => {
    for (let i = 0; i < 100; i++) ins.run(Date.now());
  })();
  db.close();
}

interface Pair {
  tool: ToolName;
  role: DbRole;
  db: string;
  path: string;
  proxy: CountingProxy;
}

function startTool(
  tool: ToolName,
  pairs: Pair[],
  s3: S3TestServer,
  work: string,
  metricsPort: number,
): { proc: ToolProcess; settings: string } {
  if (tool === "walship") {
    const args = [walshipCli, "watch"];
    for (const p of pairs) args.push(p.db, s3Url(s3.bucket, p.path, p.proxy.endpoint));
    // Defaults for everything that changes requests; metrics on, to read walship's own counters.
    args.push("--metrics-addr", `127.0.0.1:${metricsPort}`, "--log-level", "warn");
    args.push("--shutdown-timeout", "60s");
    return {
      proc: launch(
        "walship",
        process.execPath,
        args,
        { ...process.env, ...S3_ENV },
        join(work, "walship.log"),
      ),
      settings:
        "watch at its defaults: sync 1 s, snapshot 24 h, levels 30 s / 5 min / 1 h, L0 retention 5 min, GFS retention, lease on (renewed every 10 s); --metrics-addr to read its counters",
    };
  }
  if (tool !== "litestream") throw new Error(`requests mode runs walship and litestream, not ${tool}`);
  const cfg = {
    logging: { level: "warn" },
    dbs: pairs.map((p) => ({
      path: p.db,
      replica: {
        type: "s3",
        bucket: s3.bucket,
        path: p.path,
        endpoint: p.proxy.endpoint,
        region: "us-east-1",
        "force-path-style": true,
        "access-key-id": TEST_ACCESS_KEY_ID,
        "secret-access-key": TEST_SECRET_ACCESS_KEY,
      },
    })),
  };
  const file = join(work, "litestream.yml");
  writeFileSync(file, toYaml(cfg));
  return {
    proc: launch(
      "litestream",
      litestreamBin,
      ["replicate", "-config", file],
      litestreamEnv(S3_ENV),
      join(work, "litestream.log"),
    ),
    settings:
      "replicate with no levels/snapshot/retention keys: its defaults (monitor and sync interval 1 s, levels 30 s / 5 min / 1 h, snapshot 24 h, L0 retention 5 min checked every 15 s)",
  };
}

/** Counters of every pair at one moment. */
interface Mark {
  at: number;
  counts: Map<Pair, Counts>;
  byClass: Map<Pair, Record<KeyClass, Counts>>;
}

function mark(pairs: Pair[]): Mark {
  return {
    at: Date.now(),
    counts: new Map(pairs.map((p) => [p, p.proxy.snapshot()])),
    byClass: new Map(pairs.map((p) => [p, p.proxy.snapshotByClass()])),
  };
}

const CLASSES: KeyClass[] = ["list", "ltx", "lease", "other"];

function classDelta(a: Mark, b: Mark, p: Pair): Record<KeyClass, BudgetCounts> {
  const out = {} as Record<KeyClass, BudgetCounts>;
  for (const c of CLASSES) out[c] = sub(normalize(b.byClass.get(p)![c]), normalize(a.byClass.get(p)![c]));
  return out;
}

function delta(a: Mark, b: Mark, p: Pair): BudgetCounts {
  return sub(normalize(b.counts.get(p)!), normalize(a.counts.get(p)!));
}

export async function runRequestBudget(
  cfg: BenchConfig,
  log: (s: string) => void,
): Promise<RequestBudgetResult> {
  const tools = cfg.tools.filter((t) => t === "walship" || t === "litestream");
  const work = join(tmpdir(), `walship-bench-${cfg.name}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, "restored"), { recursive: true });
  const failures: string[] = [];
  const s3 = await startS3Server();
  if ("skip" in s3) throw new Error(s3.skip);
  const upstream = Number(new URL(s3.endpoint).port);
  const pairs: Pair[] = [];
  for (const tool of tools) {
    for (const role of ["idle", "busy"] as const) {
      // No spool: this run needs counts, not the uploaded bodies.
      const proxy = new CountingProxy(upstream, "/dev/null", s3.bucket);
      await proxy.start();
      pairs.push({ tool, role, db: join(work, `${tool}-${role}.db`), path: `${tool}-${role}`, proxy });
    }
  }
  const busy = pairs.filter((p) => p.role === "busy");
  const writer = forkWriter({
    dbs: busy.map((p) => p.db),
    rate: cfg.rate,
    rowsPerTx: cfg.rowsPerTx,
    rowBytes: cfg.rowBytes,
    durationMs: cfg.durationMs,
    outFile: join(work, "writer.json"),
  });
  const procs = new Map<ToolName, { proc: ToolProcess; settings: string }>();
  const metricsPort = await freePort();
  try {
    for (const p of pairs) if (p.role === "idle") createIdleDb(p.db);
    await writer.wait("started");
    writer.child.send({ type: "prepare" });
    await writer.wait("ready");
    const started = mark(pairs);
    for (const tool of tools) {
      const mine = pairs.filter((p) => p.tool === tool);
      procs.set(tool, startTool(tool, mine, s3, work, metricsPort));
    }
    log(`  ${tools.join(" and ")} started; waiting for the first object of every database`);
    const deadline = Date.now() + 120_000;
    while (pairs.some((p) => p.proxy.acks.length === 0)) {
      for (const [tool, t] of procs) {
        if (t.proc.child.exitCode !== null) throw new Error(`${tool} exited at start: ${t.proc.logTail()}`);
      }
      if (Date.now() > deadline) throw new Error("not every database had an object after 120 s");
      await sleep(100);
    }
    await sleep(2000);
    const go = mark(pairs);
    const windowStart = new Date(go.at).toISOString();
    log(`  window: ${cfg.durationMs / 60_000} min from ${windowStart} (busy databases at ${cfg.rate} tx/s)`);
    writer.child.send({ type: "go" });
    const minutes: Mark[] = [go];
    let warm: Mark | null = cfg.warmupMs > 0 ? null : go;
    const done = writer.wait("done");
    let finished = false;
    void done.then(
      () => (finished = true),
      () => (finished = true),
    );
    while (!finished) {
      await sleep(1000);
      const now = Date.now();
      if (!warm && now - go.at >= cfg.warmupMs) warm = mark(pairs);
      if (now - minutes[minutes.length - 1]!.at >= 60_000) {
        minutes.push(mark(pairs));
        const m = minutes.length - 1;
        if (m % 5 === 0) log(`  ${m} min: ${summaryLine(pairs, go, minutes[m]!)}`);
      }
    }
    await done;
    // The window ends when the writer is done; read walship's counters first, then the proxies.
    let metricsText = "";
    if (procs.has("walship")) {
      try {
        metricsText = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      } catch (e) {
        failures.push(`walship /metrics could not be read: ${(e as Error).message}`);
      }
    }
    const end = mark(pairs);
    warm ??= end;
    if (end.at - (minutes[minutes.length - 1]?.at ?? 0) >= 30_000) minutes.push(end);
    const stops = new Map<ToolName, Awaited<ReturnType<ToolProcess["stop"]>>>();
    await Promise.all(
      [...procs].map(async ([tool, t]) => {
        const s = await t.proc.stop();
        stops.set(tool, s);
        if (s.code !== 0) failures.push(`${tool} exited with code ${s.code} signal ${s.signal}`);
      }),
    );
    const final = mark(pairs);
    const wr = JSON.parse(readFileSync(join(work, "writer.json"), "utf8")) as WriterResult;
    const self = parseWalshipRequests(metricsText);
    const windowMs = end.at - go.at;
    const afterMs = end.at - warm.at;
    const dbs: BudgetDbResult[] = [];
    for (const p of pairs) {
      let loss: LossResult | null = null;
      if (cfg.verify) {
        const lastId = p.role === "idle" ? 100 : lastIdOf(wr, p.db);
        const url = s3Url(s3.bucket, p.path, s3.endpoint);
        loss = await verifyAll(p.tool, [{ url, out: join(work, "restored", `${p.path}.db`), lastId }], 1);
        if (loss.missingRows || loss.restoreFailures || loss.quickCheckFailures)
          failures.push(`${p.tool} ${p.role}: ${loss.failures.join("; ")}`);
      }
      let selfCount: BudgetDbResult["selfCount"] = null;
      const own = self.get(p.db);
      if (p.tool === "walship" && own) {
        const proxy = delta(started, end, p);
        // Requests in flight at the scrape are counted by one side only: allow one per kind.
        const agree = BUDGET_KINDS.every((k) => Math.abs(own[k] - proxy[k]) <= 1);
        selfCount = { walship: own, proxy, agree };
        if (!agree)
          failures.push(
            `walship ${p.role}: own counters ${JSON.stringify(own)} != proxy ${JSON.stringify(proxy)}`,
          );
      }
      const window = delta(go, end, p);
      dbs.push({
        tool: p.tool,
        role: p.role,
        replica: p.path,
        startup: delta(started, go, p),
        window,
        windowByClass: classDelta(go, end, p),
        perHour: perHour(window, windowMs),
        perHourAfterWarmup: perHour(delta(warm, end, p), afterMs),
        perHourAfterWarmupByClass: Object.fromEntries(
          Object.entries(classDelta(warm, end, p)).map(([k, v]) => [k, perHour(v, afterMs)]),
        ) as Record<KeyClass, BudgetCounts>,
        drain: delta(end, final, p),
        perMinute: minutes.slice(1).map((m, i) => delta(minutes[i]!, m, p)),
        errors: p.proxy.errors,
        selfCount,
        loss,
      });
    }
    const writeMs = wr.endMs - wr.startMs;
    return {
      kind: "walship-bench/requests",
      version: 1,
      name: cfg.name,
      description: cfg.description,
      rate: cfg.rate,
      durationMs: cfg.durationMs,
      warmupMs: cfg.warmupMs,
      windowMs,
      windowStart,
      tools: [...procs].map(([tool, t]) => ({
        tool,
        command: t.proc.command.join(" ").replaceAll(work, "<work>"),
        settings: t.settings,
        stop: stops.get(tool) ?? { code: null, signal: null, ms: 0 },
        logTail: t.proc.logTail().slice(-1500),
      })),
      dbs,
      writer: {
        achievedTxPerS: Math.round((wr.txs / (writeMs / 1000)) * 10) / 10,
        targetTxPerS: cfg.rate * busy.length,
        p99BehindMs: Math.round(wr.p99BehindMs),
      },
      failures,
    };
  } finally {
    if (writer.child.exitCode === null) writer.child.kill("SIGKILL");
    for (const t of procs.values()) if (t.proc.child.exitCode === null) t.proc.child.kill("SIGKILL");
    for (const p of pairs) await p.proxy.close();
    await s3.stop();
    if (!process.env.WALSHIP_BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  }
}

function lastIdOf(wr: WriterResult, db: string): number {
  const d = wr.dbs.find((x) => x.path === db);
  return d?.lastIds[d.lastIds.length - 1] ?? 0;
}

function summaryLine(pairs: Pair[], a: Mark, b: Mark): string {
  return pairs
    .map((p) => {
      const c = delta(a, b, p);
      return `${p.tool}/${p.role} PUT ${c.PUT} LIST ${c.LIST} GET ${c.GET} DEL ${c.DELETE}`;
    })
    .join("; ");
}
