/**
 * `npm run bench -- bench/configs/requests.toml [--duration 5m] [--warmup 1m]`: the request-budget run.
 * Writes bench/results/<name>.json and regenerates summary.md. A --duration different from the config's
 * writes <name>-<duration>.json instead, so a short check never replaces the committed hour.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatMs, loadConfig, parseDurationMs } from "./config.js";
import { type MachineFacts, machineFacts } from "./machine.js";
import { writeReport } from "./report.js";
import { runRequestBudget } from "./requests.js";
import { budgetTable } from "./requests-report.js";
import type { RequestBudgetResult } from "./requests-types.js";

const resultsDir = join(import.meta.dirname, "..", "results");

export async function run(
  file: string,
  args: string[],
): Promise<{ name: string; table: string; json: RequestBudgetResult & { machine: MachineFacts } }> {
  const cfg = loadConfig(file);
  for (let i = 0; i < args.length; i++) {
    const v = args[i + 1];
    if (args[i] === "--duration" && v) {
      const ms = parseDurationMs(v, "--duration");
      if (ms !== cfg.durationMs) cfg.name = `${cfg.name}-${formatMs(ms)}`;
      cfg.durationMs = ms;
      i++;
    } else if (args[i] === "--warmup" && v) {
      cfg.warmupMs = parseDurationMs(v, "--warmup");
      i++;
    } else throw new Error(`unknown option ${args[i]} (known: --duration 5m  --warmup 1m)`);
  }
  if (cfg.warmupMs >= cfg.durationMs) cfg.warmupMs = Math.floor(cfg.durationMs / 2);
  const machine = await machineFacts();
  const log = (s: string) => console.error(s);
  log(
    `bench ${cfg.name}: request budget, ${formatMs(cfg.durationMs)} (warm-up ${formatMs(cfg.warmupMs)}), ${cfg.tools.join(", ")}; load ${machine.loadAverageAtStart.join(" ")}`,
  );
  const res = { ...(await runRequestBudget(cfg, log)), machine };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${res.name}.json`), `${JSON.stringify(res, null, 2)}\n`);
  const written = writeReport(resultsDir);
  if (res.failures.length) {
    console.error(`bench ${res.name}: problems:\n  ${res.failures.join("\n  ")}`);
    process.exitCode = 1;
  }
  return {
    name: res.name,
    table: `${budgetTable(res).join("\n")}\n\n(regenerated ${written.join(", ")})`,
    json: res,
  };
}
