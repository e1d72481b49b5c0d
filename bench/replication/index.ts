/**
 * `npm run bench -- bench/configs/<name>.toml`: the replication benchmark (walship next to Litestream
 * v0.5.17). Runs each tool of the config against the workload (run.ts), then the restore-speed part if the
 * config has one, prints a table, writes bench/results/<name>.json and regenerates bench/results/summary.md
 * and the charts from every result file. Exits non-zero (process.exitCode) when `fail_on_loss` is set and
 * any committed row is missing from a restore, or a tool run failed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BenchConfig, formatMs, loadConfig, TOOL_NAMES, type ToolName } from "./config.js";
import { type MachineFacts, machineFacts } from "./machine.js";
import { cellTable, writeReport } from "./report.js";
import { type RestoreSpeedResult, restoreSpeed } from "./restore-speed.js";
import { runTool, type ToolRunResult } from "./run.js";
import { toolAvailable } from "./tools.js";

export interface CellResult {
  kind: "walship-bench/replication";
  version: 1;
  name: string;
  description: string;
  config: Omit<BenchConfig, "file"> & { file: string };
  settings: Record<string, string>;
  machine: MachineFacts;
  runs: ToolRunResult[];
  restoreSpeed: RestoreSpeedResult[] | null;
  failures: string[];
  loadAverageAtEnd: number[];
  elapsedS: number;
}

type BenchPart = (args: string[]) => Promise<{ name: string; table: string; json: unknown }>;

export const resultsDir = join(import.meta.dirname, "..", "results");

export async function runConfig(
  file: string,
  opts: { tools?: ToolName[] } = {},
  log = (s: string) => console.error(s),
): Promise<CellResult> {
  const t0 = performance.now();
  const cfg = loadConfig(file);
  if (opts.tools) cfg.tools = opts.tools;
  const machine = await machineFacts();
  log(
    `bench ${cfg.name}: ${cfg.databases} db x ${cfg.rate} tx/s x ${cfg.rowsPerTx} rows, ${formatMs(cfg.durationMs)}, tools ${cfg.tools.join(", ")}; load ${machine.loadAverageAtStart.join(" ")}`,
  );
  const runs: ToolRunResult[] = [];
  const failures: string[] = [];
  if (cfg.databases > 0) {
    for (const tool of cfg.tools) {
      if (!toolAvailable(tool)) {
        failures.push(`${tool}: not installed, skipped`);
        continue;
      }
      try {
        const r = await runTool(cfg, tool, log);
        r.ranAt = {
          date: new Date().toISOString(),
          walshipDist: machine.walshipDist,
          gitRevision: machine.gitRevision,
        };
        runs.push(r);
        for (const p of r.problems) failures.push(`${tool}: ${p}`);
        log(
          `  ${tool}: lag p50 ${r.lag.lagMs?.p50} ms p99 ${r.lag.lagMs?.p99} ms, RSS steady ${r.rssMiB.steady} MiB, CPU ${r.cpu.windowPct}%, missing ${r.loss?.missingRows ?? "n/a"}`,
        );
      } catch (e) {
        failures.push(`${tool}: run failed: ${(e as Error).message}`);
        log(`  ${tool}: run failed: ${(e as Error).stack}`);
      }
    }
  }
  let rs: RestoreSpeedResult[] | null = null;
  if (cfg.restoreSpeed) {
    try {
      rs = await restoreSpeed(cfg.restoreSpeed, cfg.tools, log);
      for (const s of rs) {
        for (const p of s.pairs)
          if (!p.ok) failures.push(`restore ${s.sizeMiB} MiB ${p.restorer} <- ${p.replica}: ${p.error}`);
      }
    } catch (e) {
      failures.push(`restore speed failed: ${(e as Error).message}`);
      log(`restore speed failed: ${(e as Error).stack}`);
    }
  }
  const { file: _f, ...rest } = cfg;
  return {
    kind: "walship-bench/replication",
    version: 1,
    name: cfg.name,
    description: cfg.description,
    config: { ...rest, file: file.replace(/^.*?(bench\/configs\/)/, "$1") },
    settings: {
      walship: `watch --config walship.toml --sync-interval ${formatMs(cfg.syncIntervalMs)} --snapshot-interval 24h, [compaction] levels ["24h"] (compaction effectively off, as for Litestream)`,
      litestream: `monitor-interval ${formatMs(cfg.syncIntervalMs)}, sync-interval ${formatMs(cfg.syncIntervalMs)}, snapshot interval 24h, levels [24h] (compaction effectively off)`,
      writer:
        "journal_mode=WAL, synchronous=NORMAL, wal_autocheckpoint default (1000), 1 KiB randomblob rows",
      server: "versitygw posix on 127.0.0.1 behind a counting node:http proxy; one fresh server per tool run",
    },
    machine,
    runs,
    restoreSpeed: rs,
    failures,
    loadAverageAtEnd: (await import("node:os")).loadavg().map((x) => Number(x.toFixed(2))),
    elapsedS: Math.round((performance.now() - t0) / 1000),
  };
}

/** For bench/main.ts: a loader of the part that runs config `file`. */
function parseArgs(args: string[]): { tools?: ToolName[]; merge: boolean } {
  let tools: ToolName[] | undefined;
  let merge = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--merge") merge = true;
    else if (args[i] === "--tools") {
      tools = (args[++i] ?? "").split(",").filter(Boolean) as ToolName[];
      if (!tools.length || tools.some((t) => !TOOL_NAMES.includes(t))) {
        throw new Error(`--tools: give a comma-separated list of ${TOOL_NAMES.join(", ")}`);
      }
    } else throw new Error(`unknown option ${args[i]} (known: --tools a,b  --merge)`);
  }
  return { tools, merge };
}

/**
 * --merge: keep the runs of the other tools (and the restore-speed results, unless this config measures
 * restore speed again) from the existing result file, replacing only the tools run now.
 */
function mergeInto(prev: CellResult, res: CellResult): CellResult {
  const ran = new Set(res.runs.map((r) => r.tool).concat(res.config.tools));
  const kept: ToolRunResult[] = prev.runs
    .filter((r) => !ran.has(r.tool))
    .map((r) => ({
      ...r,
      ranAt: r.ranAt ?? {
        date: prev.machine.date,
        walshipDist: prev.machine.walshipDist ?? "live dist/",
        gitRevision: prev.machine.gitRevision,
      },
    }));
  const runs = kept.concat(res.runs);
  runs.sort((a, b) => TOOL_NAMES.indexOf(a.tool) - TOOL_NAMES.indexOf(b.tool));
  const failures = prev.failures
    .filter((f) => !res.config.tools.some((t) => f.startsWith(`${t}:`)))
    .concat(res.failures);
  // The cell's machine facts stay those of its first full run; each run carries its own ranAt.
  return {
    ...res,
    machine: prev.machine,
    loadAverageAtEnd: prev.loadAverageAtEnd,
    elapsedS: prev.elapsedS,
    runs,
    failures,
    restoreSpeed: res.restoreSpeed ?? prev.restoreSpeed,
    config: { ...res.config, tools: [...new Set([...prev.config.tools, ...res.config.tools])] },
  };
}

export function part(file: string): () => Promise<BenchPart> {
  return async () => async (args) => {
    if (loadConfig(file).mode === "requests") return (await import("./requests-part.js")).run(file, args);
    const opts = parseArgs(args);
    let res = await runConfig(file, opts);
    const out = join(resultsDir, `${res.name}.json`);
    if (opts.merge && existsSync(out))
      res = mergeInto(JSON.parse(readFileSync(out, "utf8")) as CellResult, res);
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(out, `${JSON.stringify(res, null, 2)}\n`);
    const written = writeReport(resultsDir);
    const loss = res.runs.some((r) => (r.loss?.missingRows ?? 0) > 0 || (r.loss?.restoreFailures ?? 0) > 0);
    if (res.failures.length && (res.config.failOnLoss || loss)) {
      console.error(`bench ${res.name}: FAILED:\n  ${res.failures.join("\n  ")}`);
      process.exitCode = 1;
    } else if (res.failures.length) {
      console.error(`bench ${res.name}: problems:\n  ${res.failures.join("\n  ")}`);
    }
    return { name: res.name, table: `${cellTable(res)}\n\n(regenerated ${written.join(", ")})`, json: res };
  };
}
