/**
 * The crash harness in CI (harness.ts): at least 50 rounds of SIGKILL under storage faults against a real
 * S3 server (versitygw), plus a shorter run on a directory replica with FaultyReplicaClient. Locally the
 * round counts come from WALSHIP_CHAOS_ROUNDS (default 10) and the seed from WALSHIP_SEED; a failure
 * prints the seed and the command that replays it. walship runs from dist/: `npm run build` first.
 */
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";
import { startS3Server } from "../helpers/s3-server.js";
import { type ChaosReport, runChaos } from "./harness.js";

const CI = process.env.CI === "true";
/** The acceptance floor for CI; each round is about a second. */
const CI_ROUNDS = 50;
const rounds = CI
  ? Math.max(CI_ROUNDS, Number(process.env.WALSHIP_CHAOS_ROUNDS ?? 0))
  : Number(process.env.WALSHIP_CHAOS_ROUNDS ?? 10);
const seed = Number(process.env.WALSHIP_SEED ?? Date.now() % 1_000_000);

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temp parent for one run (runChaos removes only its own work directory). */
function workDir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return join(d, "run");
}

function built(): string | false {
  const dist = process.env.WALSHIP_DIST ?? join(repoRoot, "dist");
  return existsSync(join(dist, "replicator.js")) ? false : `no build at ${dist}: run npm run build first`;
}

function summary(r: ChaosReport): string {
  return `${r.backend}: ${r.rounds} rounds, seed ${r.seed}, ${r.transactions.committed} transactions committed, ${r.transactions.acknowledged} acknowledged, ${r.restores.restores} restores checked, kills ${JSON.stringify(r.kills)}, faults ${JSON.stringify(r.faults)}`;
}

function assertClean(r: ChaosReport, t: { diagnostic(msg: string): void }): void {
  t.diagnostic(`chaos ${summary(r)}`);
  assert.deepEqual(r.failures, [], `chaos failed (seed ${r.seed}): ${r.failures.join("\n")}`);
  assert.equal(r.lost, 0);
  assert.equal(
    r.transactions.acknowledged,
    r.transactions.committed,
    "everything committed was acknowledged",
  );
  assert.ok(r.restores.restores > 0);
  assert.deepEqual(r.leftovers, [], "no temporary files left behind in the meta directory");
}

test(`chaos on S3 (versitygw behind the fault proxy): ${rounds} rounds, seed ${seed}`, async (t) => {
  const missing = built();
  if (missing) {
    if (CI) assert.fail(missing);
    return t.skip(missing);
  }
  const probe = await startS3Server();
  if ("skip" in probe) return t.skip(probe.skip);
  await probe.stop();
  const r = await runChaos({ rounds, seed, backend: "s3", dir: workDir("walship-chaos-s3-") });
  assertClean(r, t);
});

test(`chaos on a directory replica (FaultyReplicaClient): ${Math.ceil(rounds / 3)} rounds, seed ${seed}`, async (t) => {
  const missing = built();
  if (missing) {
    if (CI) assert.fail(missing);
    return t.skip(missing);
  }
  const r = await runChaos({
    rounds: Math.ceil(rounds / 3),
    seed,
    backend: "file",
    dir: workDir("walship-chaos-file-"),
  });
  assertClean(r, t);
});
