/**
 * The crash harness: an app process (writer.ts) commits numbered transactions without pause; walship
 * (walship-child.mjs) replicates them and is SIGKILLed every round, at a random moment, at a precise point
 * inside a checkpoint, a snapshot, a staged write or an upload, or (S3) while a PUT is on the wire; storage
 * faults run throughout (S3: the fault proxy in front of versitygw; directory: FaultyReplicaClient).
 *
 * Acknowledgement: the harness asks the running walship to sync() right after the writer reported a
 * commit n; an answer "TXID T" means transactions 1..n are on the replica at T or earlier.
 *
 * Checks, at random rounds and at the end, by restoring (fault-free) and reading the result with the
 * oracle (model.ts), which proves the restored image is exactly "the first m transactions" for its m:
 * - latest: m >= every acknowledged n (nothing acknowledged is lost);
 * - a random acknowledged TXID T and a random TXID below the newest: a clean prefix, m >= ack(T);
 * - a TXID restores to the same m every time it is checked (the replica never rewrites history), and m
 *   grows with the TXID;
 * - finally, with the writer stopped and walship drained: latest == every committed transaction.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import type { ReplicaClient } from "../../src/replica/client.js";
import type { FaultPlan } from "../../src/replica/faulty.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { repoRoot } from "../helpers/cli.js";
import { makeRandom } from "../helpers/random.js";
import { startS3Server } from "../helpers/s3-server.js";
import { type ChildConfig, KILL_POINTS, type KillPoint } from "./child-config.js";
import { FaultProxy, type ProxyPlan } from "./fault-proxy.js";
import { SCHEMA } from "./model.js";
import { Oracle } from "./oracle.js";

export interface ChaosOptions {
  rounds: number;
  seed: number;
  backend: "s3" | "file";
  /** Work directory (database, replica); removed afterwards unless keep. */
  dir: string;
  keep?: boolean;
  /** Probability per round of a restore check (besides the final one). */
  checkRate?: number;
  /** Writer rate in transactions per second. */
  txPerSecond?: number;
  log?: (line: string) => void;
  /** Log every round (kill point, progress). */
  verbose?: boolean;
  /** Run compaction in walship (default true). */
  compaction?: boolean;
}

export interface ChaosReport {
  seed: number;
  backend: "s3" | "file";
  rounds: number;
  durationMs: number;
  kills: Record<string, number>;
  faults: Record<string, number>;
  startFailures: number;
  /** Compaction events by type (compacted, gap, error, ...). */
  maintenance: Record<string, number>;
  transactions: { committed: number; acknowledged: number };
  syncs: { acknowledged: number; failed: number };
  restores: { checks: number; restores: number; txidsChecked: number; newestTXID: string };
  /** Files left in the meta directory that nothing will clean up. */
  leftovers: string[];
  lost: number;
  failures: string[];
}

/** Rounds end by this (ms) at the latest: a round is about one second of replication under faults. */
const ROUND_MAX_MS = 1_500;
/** How often (ms) the harness asks walship for an acknowledgement. */
const SYNC_EVERY_MS = 120;
/** Share of rounds that start walship on a quiet, fully checkpointed WAL (see writer.ts "q"/"g"). */
const QUIET_START_RATE = 0.25;
/** The app commits again at a random moment up to this long (ms) after walship's process is spawned. */
const QUIET_START_MAX_MS = 800;
/** walship starts within this (ms) or the round counts as a failed start. */
const START_TIMEOUT_MS = 20_000;
/**
 * After this many rounds without an acknowledgement the next round runs until walship acknowledges (at
 * most RECOVERY_MAX_MS): killing every second forever can starve replication on a loaded machine, and a
 * harness that only ever kills proves nothing about what happens after.
 */
const STALL_ROUNDS = 4;
const RECOVERY_MAX_MS = 60_000;
/** The final drain: everything committed reaches the replica within this (ms). */
const DRAIN_TIMEOUT_MS = 120_000;

const WRITER = join(repoRoot, "test", "chaos", "writer.ts");
const CHILD = join(repoRoot, "test", "chaos", "walship-child.mjs");

/** Faults for the whole run; the rates are per request, chosen so most rounds see several. */
const PROXY_PLAN: ProxyPlan = {
  rates: { reset: 0.03, "lost-ack": 0.04, slowdown: 0.03, internal: 0.02, truncate: 0.02, latency: 0.1 },
  maxLatencyMs: 150,
};
const FILE_PLAN: FaultPlan = {
  errorRate: 0.02,
  throttleRate: 0.01,
  timeoutRate: 0.01,
  timeoutMs: 300,
  partialWriteRate: 0.04,
  lostAckRate: 0.04,
  listLagRate: 0.1,
  listLagCalls: 2,
  latencyMs: 15,
};

class Failure extends Error {}

interface Child {
  proc: ChildProcess;
  ready: Promise<boolean>;
  exited: Promise<void>;
  dying: KillPoint | null;
  events: string[];
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const t0 = Date.now();
  const rnd = makeRandom(o.seed);
  const log = o.log ?? (() => {});
  const report: ChaosReport = {
    seed: o.seed,
    backend: o.backend,
    rounds: 0,
    durationMs: 0,
    kills: {},
    faults: {},
    startFailures: 0,
    maintenance: {},
    transactions: { committed: 0, acknowledged: 0 },
    syncs: { acknowledged: 0, failed: 0 },
    restores: { checks: 0, restores: 0, txidsChecked: 0, newestTXID: "0" },
    leftovers: [],
    lost: 0,
    failures: [],
  };
  const fail = (msg: string): never => {
    throw new Failure(
      `${msg} (seed ${o.seed}, backend ${o.backend}; replay: npm run chaos -- --seed ${o.seed} --rounds ${o.rounds} --backend ${o.backend})`,
    );
  };
  mkdirSync(o.dir, { recursive: true });
  const db = join(o.dir, "app.db");
  const setup = new Database(db);
  setup.pragma("journal_mode = WAL");
  setup.exec(SCHEMA);
  setup.close();

  // ---- storage -----------------------------------------------------------------------------------------
  let proxy: FaultProxy | null = null;
  let stopServer: () => Promise<void> = async () => {};
  let serverRoot: string | null = null;
  // Each walship start gets its own fault seed (derived from the run's), or every start would replay the
  // same first fault; the final drain runs without faults.
  let replicaFor: (start: number, faults: boolean) => ChildConfig["replica"];
  let direct: ReplicaClient;
  if (o.backend === "s3") {
    const server = await startS3Server();
    if ("skip" in server) throw new Error(server.skip);
    stopServer = () => server.stop();
    serverRoot = server.root;
    proxy = new FaultProxy(o.seed, PROXY_PLAN);
    const endpoint = await proxy.start(server.endpoint);
    const opts = server.clientOptions("chaos/app.db");
    replicaFor = (_start, faults) => ({ s3: { ...opts, endpoint: faults ? endpoint : server.endpoint } });
    direct = new S3ReplicaClient(opts);
  } else {
    const dir = join(o.dir, "replica");
    replicaFor = (start, faults) => ({
      dir,
      faults: faults ? FILE_PLAN : {},
      seed: (o.seed + start * 7919) >>> 0,
    });
    direct = new FileReplicaClient(dir);
  }

  // ---- the app -----------------------------------------------------------------------------------------
  let committed = 0;
  const writer = spawn(process.execPath, ["--import", "tsx", WRITER, db, "1", String(o.txPerSecond ?? 120)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  writer.stdin?.on("error", () => {});
  let writerErr = "";
  writer.stderr?.on("data", (d) => (writerErr = (writerErr + d).slice(-2000)));
  createInterface({ input: writer.stdout! }).on("line", (l) => {
    if (l.startsWith("c ")) committed = Number(l.slice(2));
  });
  const writerExited = new Promise<number | null>((r) => writer.once("exit", (c) => r(c)));

  // ---- acknowledgements and checks ---------------------------------------------------------------------
  const oracle = new Oracle(direct, o.dir, rnd, report.restores, fail);

  let starts = 0;
  const startChild = (killAt: ChildConfig["killAt"], faults = true): Child => {
    const cfg: ChildConfig = {
      db,
      replica: replicaFor(starts++, faults),
      syncIntervalMs: 100,
      minCheckpointPages: 50,
      checkpointIntervalMs: 500,
      snapshotIntervalMs: 2_000,
      truncatePages: rnd() < 0.3 ? 300 : -1,
      compaction: o.compaction ?? true,
      killAt,
    };
    const proc = spawn(process.execPath, [CHILD], {
      env: { ...process.env, CHAOS_CHILD: JSON.stringify(cfg) },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const child: Child = {
      proc,
      dying: null,
      events: [],
      ready: Promise.resolve(false),
      exited: new Promise((r) => proc.once("exit", () => r())),
    };
    let stderr = "";
    proc.stderr?.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
    // A sync request can race the child's death: the pipe then fails, which is expected.
    proc.stdin?.on("error", () => {});
    const pending = new Map<string, number>();
    let nextId = 0;
    (child as Child & { sync: () => void }).sync = () => {
      const id = String(nextId++);
      pending.set(id, committed);
      proc.stdin?.write(`s ${id}\n`, () => {});
    };
    child.ready = new Promise((resolve) => {
      createInterface({ input: proc.stdout! }).on("line", (l) => {
        if (l === "ready") return resolve(true);
        if (l.startsWith("a ")) {
          const [, id, hex] = l.split(" ");
          const n = pending.get(id!) ?? 0;
          pending.delete(id!);
          oracle.ack(BigInt(`0x${hex}`), n);
          report.syncs.acknowledged++;
        } else if (l.startsWith("e ")) {
          report.syncs.failed++;
          if (o.verbose) log(`sync failed: ${l.slice(2)}`);
        } else if (l.startsWith("ev maintenance ")) {
          const [kind = "", ...detail] = l.slice(15).split(" ");
          if (kind === "error" && o.verbose) log(`compaction error: ${detail.join(" ")}`);
          report.maintenance[kind] = (report.maintenance[kind] ?? 0) + 1;
          if (kind === "deleted") report.failures.push("compaction deleted files although retention is off");
        } else if (l.startsWith("ev fault ")) {
          const k = l.slice(9);
          report.faults[k] = (report.faults[k] ?? 0) + 1;
        } else if (l.startsWith("ev dying ")) {
          child.dying = l.slice(9) as KillPoint;
        } else if (l.startsWith("ev ")) {
          child.events.push(l.slice(3));
          if (l.startsWith("ev start-failed")) log(`walship failed to start: ${l.slice(16)}`);
          if (l.startsWith("ev error fatal")) log(`walship fatal: ${l}`);
        }
      });
      proc.once("exit", () => resolve(false));
    });
    proc.once("exit", (code, sig) => {
      if (code !== null && code !== 0 && code !== 3)
        log(`walship exited ${code}: ${stderr.trim().slice(-500)}`);
      if (sig === null && code !== 0 && code !== 3)
        report.failures.push(`walship crashed by itself (${code})`);
    });
    return child;
  };

  // ---- rounds ------------------------------------------------------------------------------------------
  try {
    let lastAckSeen = 0;
    let stalled = 0;
    for (let round = 0; round < o.rounds; round++) {
      report.rounds = round + 1;
      const mode = rnd();
      const point = KILL_POINTS[Math.floor(rnd() * KILL_POINTS.length)]!;
      const recovery = stalled >= STALL_ROUNDS;
      const killAt = mode < 0.5 && !recovery ? { point, nth: 1 + Math.floor(rnd() * 3) } : undefined;
      const wirePut = o.backend === "s3" && mode >= 0.5 && mode < 0.65 && !recovery;
      const acksBefore = report.syncs.acknowledged;
      // Sometimes the app checkpoints everything and pauses while walship is down, and commits again a
      // moment after walship starts: walship then resumes on read mark 0 under a WAL restart.
      const quiet = rnd() < QUIET_START_RATE;
      if (quiet) {
        writer.stdin?.write("q\n");
        await new Promise((r) => setTimeout(r, 50));
      }
      const child = startChild(killAt);
      if (quiet) setTimeout(() => writer.stdin?.write("g\n"), rnd() * QUIET_START_MAX_MS);
      const started = await Promise.race([
        child.ready,
        new Promise<boolean>((r) => setTimeout(() => r(false), START_TIMEOUT_MS)),
      ]);
      if (!started && child.dying === null) {
        report.startFailures++;
        child.proc.kill("SIGKILL");
        await child.exited;
        continue;
      }
      const deadline =
        Date.now() +
        (recovery ? RECOVERY_MAX_MS : killAt ? ROUND_MAX_MS : 150 + rnd() * (ROUND_MAX_MS - 150));
      let how = recovery ? "recovery" : "timer";
      while (Date.now() < deadline && child.proc.exitCode === null && child.proc.signalCode === null) {
        if (recovery && report.syncs.acknowledged > acksBefore) break;
        (child as Child & { sync: () => void }).sync();
        await new Promise((r) => setTimeout(r, SYNC_EVERY_MS / 4));
        if (wirePut && proxy && [...proxy.inFlight].some((k) => k.startsWith("PUT"))) {
          how = [...proxy.inFlight].some((k) => k.includes("/0009/")) ? "wire:snapshot-put" : "wire:put";
          break;
        }
        await new Promise((r) => setTimeout(r, (SYNC_EVERY_MS * 3) / 4));
      }
      child.proc.kill("SIGKILL");
      await child.exited;
      const kind = child.dying
        ? `point:${child.dying}`
        : `${how}${child.events.length ? ` after ${child.events.at(-1)!.split(" ")[0]}` : ""}`;
      report.kills[kind] = (report.kills[kind] ?? 0) + 1;
      if (o.verbose)
        log(`round ${round + 1}: ${kind}; committed ${committed}, acknowledged ${oracle.ackedN}`);
      if (writer.exitCode !== null) fail(`the app died: ${writerErr}`);
      stalled = oracle.ackedN > lastAckSeen ? 0 : stalled + 1;
      lastAckSeen = oracle.ackedN;
      if (rnd() < (o.checkRate ?? 0.15)) await oracle.check(`r${round}`);
      if (round % 10 === 9)
        log(`round ${round + 1}/${o.rounds}: ${committed} committed, ${oracle.ackedN} acknowledged`);
    }

    // ---- the end: stop the app, drain, everything committed must restore ---------------------------------
    writer.kill("SIGTERM");
    await writerExited;
    const total = committed;
    if (proxy) proxy.enabled = false;
    const last = startChild(undefined, false);
    if (!(await last.ready)) fail("walship did not start for the final drain");
    const drainBy = Date.now() + DRAIN_TIMEOUT_MS;
    while (oracle.ackedN < total && Date.now() < drainBy) {
      (last as Child & { sync: () => void }).sync();
      await new Promise((r) => setTimeout(r, 200));
    }
    last.proc.stdin?.end();
    await last.exited;
    if (oracle.ackedN < total)
      fail(`only ${oracle.ackedN} of ${total} transactions were acknowledged after the drain`);
    const final = await oracle.restoreAt(undefined, "final");
    if (final !== total) fail(`final restore holds ${final} transactions; the app committed ${total}`);
    await oracle.check("end");
    report.transactions = { committed: total, acknowledged: oracle.ackedN };
    report.restores.newestTXID = oracle.newestChecked().toString(16);
    const meta = join(o.dir, ".app.db-walship");
    if (existsSync(meta)) {
      report.leftovers = readdirSync(meta).filter((n) => n.endsWith(".tmp"));
    }
  } catch (e) {
    report.failures.push(e instanceof Failure ? e.message : `${(e as Error).stack ?? e}`);
    if (e instanceof Failure && /acknowledged|holds/.test(e.message)) report.lost++;
  } finally {
    writer.kill("SIGKILL");
    report.transactions.committed ||= committed;
    report.transactions.acknowledged ||= oracle.ackedN;
    if (proxy) {
      report.faults = { ...report.faults, ...proxy.counts };
      await proxy.stop();
    }
    await direct.close();
    // A failed run that is kept keeps the S3 server's data too, for `walship ltx` / `restore` on it.
    if (o.keep && serverRoot && report.failures.length)
      cpSync(serverRoot, join(o.dir, "s3-root"), { recursive: true });
    await stopServer();
    report.durationMs = Date.now() - t0;
    if (!o.keep) rmSync(o.dir, { recursive: true, force: true });
  }
  return report;
}
