/**
 * `npm run soak -- --minutes M --dbs N [--backend s3|file] [--tx-per-second R] [--out FILE]`: runs
 * `walship watch` on N databases under constant writes for M minutes, samples its RSS, heap and open
 * descriptors, and fails on a growing trend (test/chaos/soak.ts). Writes the report (every sample, the
 * slopes, the verdict) as JSON to --out, by default bench/results/soak-<date>-<M>m-<N>dbs.json. Needs
 * `npm run build` (it runs the real CLI) and, for s3, versitygw (`npm run setup:peers`).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runSoak } from "../test/chaos/soak.js";
import { repoRoot } from "../test/helpers/cli.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "2" },
    dbs: { type: "string", default: "10" },
    backend: { type: "string", default: "s3" },
    "tx-per-second": { type: "string" },
    out: { type: "string" },
  },
});
const minutes = Number(values.minutes);
const dbs = Number(values.dbs);
const backend = values.backend === "file" ? "file" : "s3";
process.stderr.write(`soak: ${minutes} min, ${dbs} databases, backend ${backend}\n`);
const report = await runSoak({
  minutes,
  dbs,
  backend,
  dir: mkdtempSync(join(tmpdir(), "walship-soak-")),
  txPerSecond: values["tx-per-second"] ? Number(values["tx-per-second"]) : undefined,
  log: (l) => process.stderr.write(`soak: ${l}\n`),
});
const out =
  values.out ??
  join(repoRoot, "bench", "results", `soak-${report.startedAt.slice(0, 10)}-${minutes}m-${dbs}dbs.json`);
mkdirSync(join(out, ".."), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
const t = report.trends;
process.stderr.write(
  `soak: rss ${t.rssMiB?.slopePerMin} MiB/min, heap ${t.heapMiB?.slopePerMin} MiB/min, fds ${t.fds?.slopePerMin}/min; ${report.transactions} transactions, ${report.restoresChecked} restores checked; report: ${out}\n`,
);
if (report.failures.length) {
  process.stderr.write(`soak: FAILED: ${report.failures.join("\n")}\n`);
  process.exit(1);
}
process.exit(0);
