/**
 * `npm run chaos -- --rounds N --seed S [--backend s3|file] [--out FILE] [--keep DIR]`: the crash harness
 * (test/chaos/harness.ts). Prints the report as JSON; exits 1 on any failure, printing the seed to replay.
 * Needs `npm run build` (walship runs from dist/ so that a round takes about a second) and, for s3,
 * versitygw (`npm run setup:peers`).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runChaos } from "../test/chaos/harness.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "50" },
    seed: { type: "string" },
    backend: { type: "string", default: "s3" },
    out: { type: "string" },
    keep: { type: "string" },
    "tx-per-second": { type: "string" },
    "check-rate": { type: "string" },
    verbose: { type: "boolean" },
  },
});
const backend = values.backend === "file" ? "file" : "s3";
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const dir = values.keep ?? mkdtempSync(join(tmpdir(), "walship-chaos-"));
process.stderr.write(`chaos: ${values.rounds} rounds, seed ${seed}, backend ${backend}, dir ${dir}\n`);
const report = await runChaos({
  rounds: Number(values.rounds),
  seed,
  backend,
  dir,
  keep: values.keep !== undefined,
  txPerSecond: values["tx-per-second"] ? Number(values["tx-per-second"]) : undefined,
  checkRate: values["check-rate"] ? Number(values["check-rate"]) : undefined,
  verbose: values.verbose,
  log: (l) => process.stderr.write(`chaos: ${l}\n`),
});
const json = `${JSON.stringify(report, null, 2)}\n`;
process.stdout.write(json);
if (values.out) writeFileSync(values.out, json);
if (report.failures.length) {
  process.stderr.write(`chaos: FAILED (seed ${seed}): ${report.failures.join("\n")}\n`);
  process.exit(1);
}
process.exit(0);
