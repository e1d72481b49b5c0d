/**
 * Benchmark configs (bench/configs/*.toml). One file describes one cell of the matrix: the workload, the
 * tools run against it (one after the other, each with its own fresh S3 server), and optionally a
 * restore-speed measurement. Unknown keys are errors so a typo cannot silently change a run.
 *
 *   name = "dbs-100"              # results go to bench/results/<name>.json
 *   description = "..."
 *   tools = ["walship", "litestream"]
 *   databases = 100               # 0 = no replication run (restore_speed only)
 *   rate = 10                     # transactions per second, per database
 *   rows_per_tx = 1               # rows of row_bytes random bytes per transaction
 *   row_bytes = 1024
 *   duration = "60s"              # how long the writers write
 *   sync_interval = "1s"          # both tools: walship --sync-interval; Litestream monitor- and sync-interval
 *   settle = "5s"                 # wait after the last write before stopping the tool
 *   writers = 1                   # writer processes (databases are split between them)
 *   verify = true                 # restore every database with the tool's own restore; count missing rows
 *   fail_on_loss = true           # exit non-zero when any committed row is missing
 *   lag_probe = true              # cross-check: also poll LIST on database 0 directly at the server
 *   mode = "replication"          # or "requests": the request-budget run (requests.ts): per tool one idle
 *                                 # and one busy database, every tool at its defaults, all tools at once
 *   warmup = "10m"                # requests mode: per-hour rates are also given after this much of the window
 *   [restore_speed]
 *   sizes_mib = [100, 1024]
 *   repeats = 3
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parse } from "smol-toml";

export type ToolName = "walship" | "litestream" | "walrust";
export const TOOL_NAMES: readonly ToolName[] = ["walship", "litestream", "walrust"];
/** Tools run when a config does not list any. walrust (optional) only runs when listed or asked for. */
export const DEFAULT_TOOLS: readonly ToolName[] = ["walship", "litestream"];

export interface RestoreSpeedConfig {
  sizesMiB: number[];
  repeats: number;
  /** Small transactions written after the initial snapshot, so the replica is snapshot + increments. */
  tailTxs: number;
}

export type BenchMode = "replication" | "requests";

export interface BenchConfig {
  file: string;
  mode: BenchMode;
  /** Requests mode: the start of the window left out of the "after warm-up" rates (start-up compactions). */
  warmupMs: number;
  name: string;
  description: string;
  tools: ToolName[];
  databases: number;
  rate: number;
  rowsPerTx: number;
  rowBytes: number;
  durationMs: number;
  syncIntervalMs: number;
  settleMs: number;
  writers: number;
  verify: boolean;
  failOnLoss: boolean;
  lagProbe: boolean;
  restoreSpeed: RestoreSpeedConfig | null;
}

export function parseDurationMs(v: unknown, key: string): number {
  if (typeof v === "number") return v * 1000;
  const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim()) : null;
  if (!m) throw new Error(`${key}: "${String(v)}" is not a duration like 10ms, 1s, 2m or 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * unit);
}

export function formatMs(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const TOP_KEYS = new Set([
  "name",
  "description",
  "tools",
  "databases",
  "rate",
  "rows_per_tx",
  "row_bytes",
  "duration",
  "sync_interval",
  "settle",
  "writers",
  "verify",
  "fail_on_loss",
  "lag_probe",
  "restore_speed",
  "mode",
  "warmup",
]);
const RESTORE_KEYS = new Set(["sizes_mib", "repeats", "tail_txs"]);

function int(v: unknown, key: string, min: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new Error(`${key}: must be a whole number >= ${min}, got ${String(v)}`);
  }
  return v;
}

function bool(v: unknown, key: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new Error(`${key}: must be true or false`);
  return v;
}

export function loadConfig(file: string): BenchConfig {
  const raw = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const where = (k: string) => `${file}: ${k}`;
  for (const k of Object.keys(raw)) if (!TOP_KEYS.has(k)) throw new Error(where(`unknown key "${k}"`));
  const tools = (raw.tools ?? DEFAULT_TOOLS) as unknown[];
  if (!Array.isArray(tools) || tools.some((t) => !TOOL_NAMES.includes(t as ToolName))) {
    throw new Error(where(`tools: give a list of ${TOOL_NAMES.join(", ")}`));
  }
  let restoreSpeed: RestoreSpeedConfig | null = null;
  if (raw.restore_speed !== undefined) {
    const r = raw.restore_speed as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      if (!RESTORE_KEYS.has(k)) throw new Error(where(`unknown key "restore_speed.${k}"`));
    }
    const sizes = r.sizes_mib;
    if (!Array.isArray(sizes) || sizes.some((s) => typeof s !== "number" || s <= 0)) {
      throw new Error(where("restore_speed.sizes_mib: give a list of sizes in MiB"));
    }
    restoreSpeed = {
      sizesMiB: sizes as number[],
      repeats: int(r.repeats, where("restore_speed.repeats"), 1, 3),
      tailTxs: int(r.tail_txs, where("restore_speed.tail_txs"), 0, 100),
    };
  }
  const name = raw.name === undefined ? basename(file, ".toml") : String(raw.name);
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name))
    throw new Error(where(`name: "${name}" is not a file-name-safe word`));
  const databases = int(raw.databases, where("databases"), 0, 1);
  const rate = raw.rate === undefined ? 10 : Number(raw.rate);
  if (!(rate > 0)) throw new Error(where("rate: must be > 0"));
  const mode = raw.mode ?? "replication";
  if (mode !== "replication" && mode !== "requests")
    throw new Error(where(`mode: "${String(mode)}" is not "replication" or "requests"`));
  return {
    file,
    mode,
    warmupMs: parseDurationMs(raw.warmup ?? "0s", where("warmup")),
    name,
    description: String(raw.description ?? ""),
    tools: tools as ToolName[],
    databases,
    rate,
    rowsPerTx: int(raw.rows_per_tx, where("rows_per_tx"), 1, 1),
    rowBytes: int(raw.row_bytes, where("row_bytes"), 1, 1024),
    durationMs: parseDurationMs(raw.duration ?? "60s", where("duration")),
    syncIntervalMs: parseDurationMs(raw.sync_interval ?? "1s", where("sync_interval")),
    settleMs: parseDurationMs(raw.settle ?? "5s", where("settle")),
    writers: int(raw.writers, where("writers"), 1, 1),
    verify: bool(raw.verify, where("verify"), true),
    failOnLoss: bool(raw.fail_on_loss, where("fail_on_loss"), false),
    lagProbe: bool(raw.lag_probe, where("lag_probe"), true),
    restoreSpeed,
  };
}
