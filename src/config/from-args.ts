/**
 * The flags `walship watch` and `walship explain` share, and how they become an EffectiveConfig: either
 * <db> <replica-url> pairs, or a config file (--config, else $WALSHIP_CONFIG, else ./walship.toml).
 */
import { existsSync } from "node:fs";
import { parseDuration, usageError } from "../cli/args.js";
import type { LogLevel } from "../log.js";
import { DEFAULT_CONFIG_FILE } from "./defaults.js";
import { FieldProblem, parseListenAddr } from "./fields.js";
import { loadConfigFile } from "./load.js";
import { type CliSettings, type EffectiveConfig, resolveConfig } from "./resolve.js";
import { LOG_FORMATS, LOG_LEVELS } from "./schema.js";

export const CONFIG_FLAGS = {
  config: { type: "string", short: "c" },
  "no-expand-env": { type: "boolean" },
  "sync-interval": { type: "string" },
  "snapshot-interval": { type: "string" },
  "checkpoint-pages": { type: "string" },
  "checkpoint-interval": { type: "string" },
  "truncate-pages": { type: "string" },
  "busy-timeout": { type: "string" },
  "shutdown-timeout": { type: "string" },
  "restore-if-db-not-exists": { type: "boolean" },
  "validate-interval": { type: "string" },
  "metrics-addr": { type: "string" },
  "no-metrics": { type: "boolean" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  exec: { type: "string" },
} as const;

export const CONFIG_FLAGS_USAGE = `  -c, --config FILE           walship.toml to read (default: $WALSHIP_CONFIG, else ./walship.toml when
                              no <db> <replica-url> pairs are given)
  --no-expand-env             leave \${NAME} in the config file as written
  --sync-interval 1s          how often the WAL is read (also sooner when the -wal file changes)
  --snapshot-interval 24h     how often a level-9 snapshot is taken (0 = only when the replica has none)
  --checkpoint-pages 1000     PASSIVE checkpoint once the WAL holds this many pages
  --checkpoint-interval 1m    PASSIVE checkpoint at least this often after writes (0 = off)
  --truncate-pages 121359     emergency TRUNCATE checkpoint threshold in pages (-1 = off)
  --busy-timeout 5s           how long walship's connections wait for SQLite locks
  --shutdown-timeout 10s      how long to keep uploading after SIGINT/SIGTERM
  --restore-if-db-not-exists  restore a missing database from its replica before replicating
  --validate-interval 6h      check every replica this often in the background (default 0 = off;
                              each check reads every replica file)
  --metrics-addr HOST:PORT    /metrics, /health and the dashboard (default 127.0.0.1:16767)
  --no-metrics                do not listen at all
  --exec "CMD ARGS"           run the app as a child; exit with its status after a final upload
  --log-format text|json      --log-level debug|info|warn|error`;

export type ConfigFlagValues = {
  [K in keyof typeof CONFIG_FLAGS]?: (typeof CONFIG_FLAGS)[K]["type"] extends "boolean" ? boolean : string;
};

function integerFlag(v: string | undefined, flag: string, usage: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n))
    throw usageError(`--${flag}: "${v}" is not a whole number`, usage);
  return n;
}

export function cliSettings(values: ConfigFlagValues, usage: string): CliSettings {
  const dur = (flag: keyof ConfigFlagValues) => {
    const v = values[flag];
    return typeof v === "string" ? parseDuration(v, `--${flag}`) : undefined;
  };
  const level = values["log-level"];
  if (level !== undefined && !LOG_LEVELS.includes(level as LogLevel)) {
    throw usageError(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(", ")}`, usage);
  }
  const format = values["log-format"];
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) {
    throw usageError(`--log-format: "${format}" is not text or json`, usage);
  }
  if (values["no-metrics"] && values["metrics-addr"])
    throw usageError("--metrics-addr and --no-metrics contradict each other", usage);
  let metricsAddr: CliSettings["metricsAddr"];
  if (values["no-metrics"]) metricsAddr = null;
  else if (values["metrics-addr"] !== undefined) {
    try {
      metricsAddr = parseListenAddr(values["metrics-addr"]);
    } catch (e) {
      if (e instanceof FieldProblem) throw usageError(`--metrics-addr: ${e.message}`, usage);
      throw e;
    }
  }
  const validate = dur("validate-interval");
  if (validate !== undefined && validate > 0 && validate < 1000)
    throw usageError(
      "--validate-interval: at least 1s (each check reads the whole replica), or 0 = off",
      usage,
    );
  if (values.exec !== undefined && values.exec.trim() === "")
    throw usageError("--exec: empty command", usage);
  return {
    syncIntervalMs: dur("sync-interval"),
    snapshotIntervalMs: dur("snapshot-interval"),
    checkpointIntervalMs: dur("checkpoint-interval"),
    busyTimeoutMs: dur("busy-timeout"),
    shutdownTimeoutMs: dur("shutdown-timeout"),
    minCheckpointPages: integerFlag(values["checkpoint-pages"], "checkpoint-pages", usage),
    truncatePages: integerFlag(values["truncate-pages"], "truncate-pages", usage),
    restoreIfDbNotExists: values["restore-if-db-not-exists"],
    validateIntervalMs: validate,
    metricsAddr,
    logLevel: level as LogLevel | undefined,
    logFormat: format as "text" | "json" | undefined,
    exec: values.exec,
  };
}

/** Which config file applies, if any. */
export function configPath(
  values: ConfigFlagValues,
  positionals: string[],
  env: NodeJS.ProcessEnv,
  usage: string,
): string | null {
  if (values.config !== undefined) {
    if (positionals.length > 0)
      throw usageError("give either --config or <db> <replica-url> pairs, not both", usage);
    return values.config;
  }
  if (positionals.length > 0) return null;
  if (env.WALSHIP_CONFIG) return env.WALSHIP_CONFIG;
  if (existsSync(DEFAULT_CONFIG_FILE)) return DEFAULT_CONFIG_FILE;
  return null;
}

export function configFromArgs(
  values: ConfigFlagValues,
  positionals: string[],
  env: NodeJS.ProcessEnv,
  usage: string,
): EffectiveConfig {
  const cli = cliSettings(values, usage);
  const path = configPath(values, positionals, env, usage);
  if (path === null && positionals.length === 0) {
    throw usageError(
      `give <db> <replica-url> pairs, or --config FILE (no ./${DEFAULT_CONFIG_FILE} here)`,
      usage,
    );
  }
  if (positionals.length % 2 !== 0) throw usageError("give one or more <db> <replica-url> pairs", usage);
  const pairs: Array<{ db: string; replica: string }> = [];
  for (let i = 0; i < positionals.length; i += 2)
    pairs.push({ db: positionals[i]!, replica: positionals[i + 1]! });
  const file = path === null ? null : loadConfigFile(path, { env, expandEnv: !values["no-expand-env"] });
  return resolveConfig(file, cli, pairs, env);
}
