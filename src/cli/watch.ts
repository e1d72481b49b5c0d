import { existsSync } from "node:fs";
import type { MaintenanceEvent } from "../compaction/maintainer.js";
import { CONFIG_FLAGS, CONFIG_FLAGS_USAGE, configFromArgs } from "../config/from-args.js";
import { makeReplicaClient } from "../config/replica.js";
import type { EffectiveConfig } from "../config/resolve.js";
import { EXIT_CODES, exitCodeFor, WalshipError } from "../errors.js";
import { type ChildExit, type RunningChild, startChild } from "../exec.js";
import { createLogger, type Logger, type LogLevel } from "../log.js";
import { restore } from "../restore/restore.js";
import { type RunningServer, startServer } from "../server/http.js";
import { LtxCache } from "../server/ltx-cache.js";
import { MetricsSink } from "../server/metrics.js";
import { Store, type StoreEvent } from "../store.js";
import { WebhookNotifier } from "../webhooks/notifier.js";
import { parse } from "./args.js";
import type { CliIO, Command } from "./command.js";

const usage = `walship watch [<db> <replica-url> ...] [--config walship.toml] [flags]
  Replicates each database (a path or a glob such as /data/*.db; new matches are picked up while
  running) to its replica until SIGINT/SIGTERM, then uploads what is staged and exits. Serves /metrics,
  /health and a dashboard at / on 127.0.0.1:16767 unless told otherwise.
${CONFIG_FLAGS_USAGE}`;

/** After the store has drained, queued webhooks get this long (ms) to go out. */
const WEBHOOK_FLUSH_MS = 2_000;

function describe(e: StoreEvent): [LogLevel, string, Record<string, unknown>] {
  switch (e.type) {
    case "synced":
      return ["debug", "synced", { db: e.db, txid: e.txid, pages: e.pages, full: e.full }];
    case "uploaded":
      return ["debug", "uploaded", { db: e.db, txid: e.maxTXID, bytes: e.bytes }];
    case "checkpointed":
      return ["info", "checkpoint", { db: e.db, mode: e.mode, ms: e.durationMs, busy: e.busy }];
    case "snapshot":
      return ["info", "snapshot", { db: e.db, txid: e.txid, bytes: e.bytes }];
    case "error":
      return ["error", e.error.oneLine(), { db: e.db, code: e.error.code, fatal: e.fatal }];
    case "warning":
      return ["warn", e.message, { db: e.db }];
    case "added":
      return ["info", "replicating", { db: e.db, replica: e.replica }];
    case "removed":
      return ["info", "database removed; stopped replicating it", { db: e.db }];
    case "waiting":
      return [
        "info",
        "waiting for the database to become a WAL database",
        { db: e.db, reason: e.error.message },
      ];
    case "upload_failed":
      return ["warn", "upload failed; retrying", { db: e.db, error: e.message, consecutive: e.consecutive }];
    case "breaker":
      return [e.state === "open" ? "warn" : "info", `upload circuit breaker ${e.state}`, { db: e.db }];
    case "maintenance":
      return maintenanceLine(e.db, e.event);
    case "validation":
      return validationLines(e)[0]!;
  }
}

/** Problems listed one per line, up to this many; the rest are counted. */
const MAX_PROBLEM_LINES = 20;

type ValidationEvent = Extract<StoreEvent, { type: "validation" }>;

/** A summary line, then one line per problem, so an operator sees exactly what is damaged. */
function validationLines(e: ValidationEvent): Array<[LogLevel, string, Record<string, unknown>]> {
  const at = { db: e.db, files: e.files, txid: e.latestTXID, ms: e.durationMs };
  if (e.error) {
    return [["warn", `validation could not finish: ${e.error.oneLine()}`, { db: e.db, code: e.error.code }]];
  }
  if (e.ok) return [["info", "validation: replica is whole", at]];
  const n = e.problems.length;
  const lines: Array<[LogLevel, string, Record<string, unknown>]> = [
    [
      "error",
      `validation: replica has ${n} problem${n === 1 ? "" : "s"}; a restore may fail or be incomplete`,
      at,
    ],
  ];
  for (const p of e.problems.slice(0, MAX_PROBLEM_LINES)) {
    lines.push([
      "error",
      `validation problem: ${p.message}`,
      // A problem about the whole replica (no restore chain) names no file: leave those fields out. The
      // LTX level is not called "level": in JSON logs that key is the log level.
      Object.fromEntries(
        Object.entries({
          db: e.db,
          kind: p.kind,
          ltxLevel: p.level,
          minTXID: p.minTXID,
          maxTXID: p.maxTXID,
        }).filter(([, v]) => v !== undefined),
      ),
    ]);
  }
  if (n > MAX_PROBLEM_LINES)
    lines.push(["error", `validation: ${n - MAX_PROBLEM_LINES} more problems not listed`, { db: e.db }]);
  return lines;
}

function maintenanceLine(db: string, ev: MaintenanceEvent): [LogLevel, string, Record<string, unknown>] {
  switch (ev.type) {
    case "error":
      return ["warn", `maintenance: ${ev.error.oneLine()}`, { db }];
    case "gap":
    case "retention_blocked":
      return ["warn", `maintenance: ${ev.type}`, { db, ...plain(ev) }];
    default:
      return ["debug", `maintenance: ${ev.type}`, { db, ...plain(ev) }];
  }
}

/** Event fields as log fields (bigints are formatted by the logger; nested objects as JSON). */
function plain(ev: object): Record<string, unknown> {
  const { type: _type, level, ...rest } = ev as Record<string, unknown>;
  // An event's replica `level` must not overwrite the log line's own level field.
  return level === undefined ? rest : { ...rest, ltxLevel: level };
}

/** --restore-if-db-not-exists: restore listed databases that are missing, before replicating them. */
async function restoreMissing(cfg: EffectiveConfig, io: CliIO, log: Logger): Promise<void> {
  for (const d of cfg.databases) {
    if (!d.settings.restoreIfDbNotExists) continue;
    if (d.glob) {
      log("warn", "restore-if-db-not-exists applies to listed databases, not globs", { path: d.path });
      continue;
    }
    if (existsSync(d.path)) continue;
    const client = makeReplicaClient(d.replica, cfg.s3, io.env);
    try {
      const r = await restore(client, {
        output: d.path,
        ifDbNotExists: true,
        ifReplicaExists: true,
        signal: io.signal,
      });
      if (r.status === "restored")
        log("info", "restored missing database", { db: d.path, txid: r.txid, files: r.files.length });
      else log("info", "database missing and nothing to restore", { db: d.path, reason: r.reason });
    } finally {
      await client.close();
    }
  }
}

/** The default address is shared by every walship on the host: a second one warns instead of failing. */
async function listen(
  cfg: EffectiveConfig,
  store: Store,
  metrics: MetricsSink,
  log: Logger,
): Promise<RunningServer | null> {
  try {
    const s = await startServer(cfg.metrics.host, cfg.metrics.port, {
      views: () => store.views(),
      metrics,
      ltx: new LtxCache(),
    });
    log("info", "metrics, health and dashboard listening", { url: s.url });
    return s;
  } catch (e) {
    if (cfg.metrics.explicit || !(e instanceof WalshipError)) throw e;
    log("warn", `${e.oneLine()}; continuing without /metrics`, {
      addr: `${cfg.metrics.host}:${cfg.metrics.port}`,
    });
    return null;
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

export const command: Command = {
  path: ["watch"],
  summary: "replicate databases continuously",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(args, CONFIG_FLAGS, usage);
    const cfg = configFromArgs(values, positionals, io.env, usage);
    const log = createLogger({ stream: io.stderr, format: cfg.log.format, level: cfg.log.level });
    const metrics = new MetricsSink();
    const webhooks = new WebhookNotifier(cfg.webhooks, { log });
    let fatal: WalshipError | null = null;
    const stop = new AbortController();
    const store = new Store({
      databases: cfg.databases,
      s3: cfg.s3,
      env: io.env,
      log,
      waitForListed: cfg.exec !== undefined,
      onEvent: (e) => {
        metrics.observe(e);
        webhooks.observe(e);
        const lines = e.type === "validation" ? validationLines(e) : [describe(e)];
        for (const [lvl, msg, fields] of lines) log(lvl, msg, fields);
        if (e.type === "error" && e.fatal) {
          fatal ??= e.error;
          stop.abort();
        }
      },
    });
    let server: RunningServer | null = null;
    let child: RunningChild | null = null;
    let childExit: ChildExit | null = null;
    let results: Awaited<ReturnType<Store["close"]>> = [];
    try {
      await restoreMissing(cfg, io, log);
      if (cfg.metrics.enabled) server = await listen(cfg, store, metrics, log);
      await store.start(io.signal);
      log("info", "started", { databases: store.size });
      if (cfg.exec !== undefined && !io.signal.aborted && !stop.signal.aborted) {
        child = startChild(cfg.exec, io.env, {
          log,
          onSignal: (s) => log("info", `forwarding ${s} to the child`, { pid: child?.pid }),
        });
        log("info", "started child", { pid: child.pid, command: cfg.exec });
        // With --exec the child decides when to stop: SIGINT/SIGTERM are forwarded to it, not obeyed.
        await Promise.race([child.exited.then((x) => (childExit = x)), aborted(stop.signal)]);
        if (!childExit) {
          log("warn", "replication stopped; stopping the child", { pid: child.pid });
          child.kill("SIGTERM");
          childExit = await child.exited;
        }
        log("info", "child exited", { code: childExit.code, signal: childExit.signal });
      } else {
        await Promise.race([aborted(io.signal), aborted(stop.signal)]);
      }
    } finally {
      const deadlineMs = cfg.shutdownTimeoutMs;
      if (store.size) log("info", "shutting down: uploading staged files", { deadlineMs });
      results = await store.close({ deadlineMs });
      for (const r of results) {
        log(
          r.drained ? "info" : "warn",
          r.drained ? "drained" : "not drained: files stay staged for the next start",
          {
            db: r.db,
            txid: r.status?.txid,
            replicaTXID: r.status?.replicaTXID,
          },
        );
      }
      await server?.close();
      await webhooks.close(WEBHOOK_FLUSH_MS);
    }
    if (!fatal && results.some((r) => !r.drained)) {
      fatal = new WalshipError(
        "storage_connection",
        "replica did not receive every staged file before the deadline",
        {
          hint: "staged files are kept and uploaded on the next start",
        },
      );
    }
    const exit = childExit as ChildExit | null;
    if (exit && exit.exitCode !== 0) return exit.exitCode;
    if (fatal) {
      const err = fatal as WalshipError;
      if (err.code === "storage_auth" || err.code === "replica_not_found") throw err;
      io.stderr.write(`walship watch: ${err.oneLine()}\n`);
      return exitCodeFor(err);
    }
    return exit ? exit.exitCode : EXIT_CODES.ok;
  },
};
