/**
 * The effective configuration: CLI flags over [[databases]] values over global tables over defaults, with
 * where each value came from (for `walship explain`). Watch and explain both run through here, so what
 * explain prints is what watch does.
 */
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from "../defaults.js";
import { WalshipError } from "../errors.js";
import type { LogLevel } from "../log.js";
import {
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  DEFAULT_WEBHOOK_MAX_ATTEMPTS,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
} from "./defaults.js";
import type { Field } from "./fields.js";
import { type ConfigFile, configError, type DatabaseEntry } from "./load.js";
import { makeReplicaClient, type S3Settings } from "./replica.js";
import { LOG, METRICS, S3, SYNC, WEBHOOK_EVENTS, WEBHOOKS, type WebhookEventName } from "./schema.js";
import {
  type Candidate,
  type CliSettings,
  type DatabaseSettings,
  dbSettings,
  type ExplainRow,
  fmt,
  take,
} from "./settings.js";
import type { KeyPath } from "./source-lines.js";

export interface DatabaseSpec {
  /** Absolute path, or an absolute glob pattern. */
  path: string;
  glob: boolean;
  replica: string;
  /** Where it was declared: "[[databases]] #2 (walship.toml:14)" or "command line". */
  source: string;
  settings: DatabaseSettings;
  rows: ExplainRow[];
}

export interface EffectiveConfig {
  file: string | null;
  databases: DatabaseSpec[];
  s3: S3Settings;
  metrics: { enabled: boolean; host: string; port: number; explicit: boolean };
  webhooks: {
    urls: string[];
    secret?: string;
    events: WebhookEventName[];
    timeoutMs: number;
    maxAttempts: number;
  };
  log: { level: LogLevel; format: "text" | "json" };
  shutdownTimeoutMs: number;
  exec?: string;
  rows: ExplainRow[];
}

export function expandHome(p: string): string {
  return p === "~" ? homedir() : p.startsWith("~/") ? resolve(homedir(), p.slice(2)) : p;
}

export function isGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

function resolvePath(p: string, dir: string): string {
  const e = expandHome(p.replace(/^sqlite3?:\/\//, ""));
  return isAbsolute(e) ? e : resolve(dir, e);
}

function resolveReplica(url: string, dir: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) return url;
  return resolvePath(url, dir);
}

export function resolveConfig(
  file: ConfigFile | null,
  cli: CliSettings,
  pairs: Array<{ db: string; replica: string }>,
  env: NodeJS.ProcessEnv,
): EffectiveConfig {
  const g = file?.sections;
  const fromFile = <T>(section: string, key: string, value: T | undefined): Candidate<T> => ({
    value,
    origin: `[${section}] ${key}`,
    path: [section, key],
  });
  const flag = <T>(f: string, value: T | undefined): Candidate<T> => ({ value, origin: `--${f}` });
  const rows: ExplainRow[] = [];

  const metricsAddr = cli.metricsAddr === undefined ? g?.metrics.addr : (cli.metricsAddr ?? undefined);
  const metricsEnabled = take(
    rows,
    "metrics.enabled",
    METRICS.enabled,
    [
      flag("no-metrics", cli.metricsAddr === null ? false : undefined),
      fromFile("metrics", "enabled", g?.metrics.enabled),
    ],
    true,
  );
  const addr = take(
    rows,
    "metrics.addr",
    METRICS.addr,
    [flag("metrics-addr", cli.metricsAddr ?? undefined), fromFile("metrics", "addr", g?.metrics.addr)],
    { host: DEFAULT_METRICS_HOST, port: DEFAULT_METRICS_PORT },
  );
  const logLevel = take(
    rows,
    "log.level",
    LOG.level,
    [flag("log-level", cli.logLevel), fromFile("log", "level", g?.log.level)],
    "info",
  );
  const logFormat = take(
    rows,
    "log.format",
    LOG.format,
    [flag("log-format", cli.logFormat), fromFile("log", "format", g?.log.format)],
    "text",
  );
  const shutdownTimeoutMs = take(
    rows,
    "sync.shutdown-timeout",
    SYNC["shutdown-timeout"],
    [
      flag("shutdown-timeout", cli.shutdownTimeoutMs),
      fromFile("sync", "shutdown-timeout", g?.sync["shutdown-timeout"]),
    ],
    DEFAULT_SHUTDOWN_TIMEOUT_MS,
  );
  const s3: S3Settings = g?.s3 ?? {};
  for (const key of Object.keys(S3) as Array<keyof typeof S3>) {
    if (s3[key] !== undefined)
      rows.push({ key: `s3.${key}`, value: fmt(S3[key] as Field<unknown>, s3[key]), origin: `[s3] ${key}` });
  }
  const wh = g?.webhooks ?? {};
  const webhooks = {
    urls: take(rows, "webhooks.urls", WEBHOOKS.urls, [fromFile("webhooks", "urls", wh.urls)], []),
    secret: wh.secret,
    events: take(
      rows,
      "webhooks.events",
      WEBHOOKS.events,
      [fromFile("webhooks", "events", wh.events)],
      [...WEBHOOK_EVENTS],
    ) as WebhookEventName[],
    timeoutMs: take(
      rows,
      "webhooks.timeout",
      WEBHOOKS.timeout,
      [fromFile("webhooks", "timeout", wh.timeout)],
      DEFAULT_WEBHOOK_TIMEOUT_MS,
    ),
    maxAttempts: take(
      rows,
      "webhooks.max-attempts",
      WEBHOOKS["max-attempts"],
      [fromFile("webhooks", "max-attempts", wh["max-attempts"])],
      DEFAULT_WEBHOOK_MAX_ATTEMPTS,
    ),
  };
  if (wh.secret !== undefined)
    rows.push({
      key: "webhooks.secret",
      value: fmt(WEBHOOKS.secret, wh.secret),
      origin: "[webhooks] secret",
    });
  const exec = cli.exec ?? file?.exec;
  if (exec !== undefined)
    rows.push({ key: "exec", value: JSON.stringify(exec), origin: cli.exec ? "--exec" : "exec" });

  const databases: DatabaseSpec[] = [];
  if (file) {
    for (const entry of file.databases) databases.push(resolveEntry(file, entry, cli, env));
  }
  pairs.forEach((p, i) => {
    const dbRows: ExplainRow[] = [];
    const path = resolvePath(p.db, process.cwd());
    databases.push({
      path,
      glob: isGlob(path),
      replica: resolveReplica(p.replica, process.cwd()),
      source: `command line pair #${i + 1}`,
      settings: dbSettings(dbRows, null, null, cli),
      rows: dbRows,
    });
  });
  const seen = new Set<string>();
  for (const d of databases) {
    if (seen.has(d.path)) {
      throw new WalshipError("usage", `database ${d.path} is given twice`, {
        op: "configure",
        context: { db: d.path },
      });
    }
    seen.add(d.path);
  }
  return {
    file: file?.file ?? null,
    databases,
    s3,
    metrics: {
      enabled: metricsEnabled,
      host: addr.host,
      port: addr.port,
      explicit: metricsAddr !== undefined,
    },
    webhooks,
    log: { level: logLevel as LogLevel, format: logFormat as "text" | "json" },
    shutdownTimeoutMs,
    exec,
    rows,
  };
}

function resolveEntry(
  file: ConfigFile,
  entry: DatabaseEntry,
  cli: CliSettings,
  env: NodeJS.ProcessEnv,
): DatabaseSpec {
  const at: KeyPath = ["databases", entry.index];
  const rows: ExplainRow[] = [];
  const path = resolvePath(entry.values.path, file.dir);
  const replica = resolveReplica(entry.values.replica, file.dir);
  try {
    // Build (and drop) a client so a bad URL is reported at its line now, not when the database appears.
    void makeReplicaClient(replica, file.sections.s3, env).close();
  } catch (e) {
    if (!(e instanceof WalshipError)) throw e;
    throw configError(file.file, file.lines, [...at, "replica"], e.message, e.hint);
  }
  const settings = dbSettings(rows, file, entry, cli);
  return {
    path,
    glob: isGlob(path),
    replica,
    source: `[[databases]] #${entry.index + 1} (${file.file}:${file.lines.lineOf(at) ?? 1})`,
    settings,
    rows,
  };
}

export type { CliSettings, DatabaseSettings, ExplainRow } from "./settings.js";
