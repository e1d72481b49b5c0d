#!/usr/bin/env node
import { spawnSync } from "node:child_process";
// Runs every *.test.ts below the given folders with node's own test runner (through tsx), so the
// closing summary ("# pass N / # fail N") is node's. Node 20's --test takes no globs, hence this file.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const roots = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const extra = process.argv.slice(2).filter((a) => a.startsWith("-"));
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".test.ts")) files.push(p);
  }
}
for (const r of roots.length ? roots : ["test"]) walk(r);
const filter = process.env.WALSHIP_TEST_FILTER;
const chosen = filter ? files.filter((f) => f.includes(filter)) : files;
if (chosen.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
const concurrency = process.env.WALSHIP_TEST_CONCURRENCY ?? "2";
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...extra, ...chosen],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
