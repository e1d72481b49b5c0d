/**
 * Benchmark dispatcher: `npm run bench -- <part|config.toml> [options]`.
 * Each part prints a table and writes JSON under bench/results/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type BenchPart = (args: string[]) => Promise<{ name: string; table: string; json: unknown }>;

const parts: Record<string, () => Promise<BenchPart>> = {
  codec: async () => (await import("./codec.js")).runCodecBench,
};

async function main(): Promise<void> {
  const [which = "codec", ...rest] = process.argv.slice(2);
  const load = which.endsWith(".toml") ? (await import("./replication/index.js")).part(which) : parts[which];
  if (!load) {
    console.error(`bench: unknown part "${which}"; known: ${Object.keys(parts).join(", ")}`);
    process.exit(2);
  }
  const run = await load();
  const res = await run(rest);
  console.log(res.table);
  const dir = join(import.meta.dirname, "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${res.name}.json`);
  writeFileSync(file, `${JSON.stringify(res.json, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

await main();
