/**
 * `walship verify`: is this replica whole? Decodes every file (files.ts), checks how they fit together
 * (structure.ts), and with `deep` restores the newest state to a temporary file and runs
 * PRAGMA integrity_check on it. Nothing in the replica is changed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../clock.js";
import { filesOf, type Levels, replicaMax } from "../compaction/levels.js";
import { DEFAULT_PITR_WINDOW_MS } from "../compaction/policy.js";
import { isWalshipError, WalshipError } from "../errors.js";
import { type LtxFileInfo, type ReplicaClient, SNAPSHOT_LEVEL } from "../replica/client.js";
import { listAll } from "../restore/plan.js";
import { restore } from "../restore/restore.js";
import { type CheckedFile, checkFiles, pageSizeProblems } from "./files.js";
import { problem, type VerifyProblem } from "./problems.js";
import { type Continuity, continuity, holes, latestChain, overlaps } from "./structure.js";

export interface VerifyOptions {
  deep?: boolean;
  /** The point-in-time window holes are judged against (default DEFAULT_PITR_WINDOW_MS). */
  pitrWindowMs?: number;
  /** ms since the epoch; default the system time. */
  now?: number;
  /** Where the deep restore writes (default the OS temp dir). */
  tempDir?: string;
  signal?: AbortSignal;
  onFile?: (c: CheckedFile) => void;
}

export interface LevelSummary {
  level: number;
  files: number;
  bytes: number;
  minTXID: bigint | null;
  maxTXID: bigint | null;
}

export interface VerifyReport {
  location: string;
  files: number;
  /** Files deleted while verify ran (a live replica); their absence is not a problem. */
  vanished: number;
  bytes: number;
  levels: LevelSummary[];
  latestTXID: bigint;
  pageSize: number | null;
  /** The latest restore plan, when one exists. */
  chain: LtxFileInfo[];
  continuity: Continuity | null;
  /** TXIDs of the retained snapshots (each a restore point of its own). */
  snapshots: bigint[];
  problems: VerifyProblem[];
  deep?: { txid: bigint; integrity: "ok" } | { error: string };
}

export async function verifyReplica(client: ReplicaClient, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const levels: Levels = await listAll(client, { signal: opts.signal });
  const all = [...levels.values()].flat();
  if (all.length === 0) {
    throw new WalshipError("replica_not_found", `no LTX files in ${client.location}`, {
      op: "verify",
      hint: "check the replica URL; the database may never have been replicated there",
    });
  }
  const checked = await checkFiles(client, all, { signal: opts.signal, onFile: opts.onFile });
  const problems: VerifyProblem[] = checked.flatMap((c) => c.problems);
  const sizes = pageSizeProblems(checked);
  problems.push(...sizes.problems);
  problems.push(...overlaps(levels));
  problems.push(...holes(levels, opts.now ?? systemClock.now(), opts.pitrWindowMs ?? DEFAULT_PITR_WINDOW_MS));
  const chain = latestChain(levels);
  problems.push(...chain.problems);
  const report: VerifyReport = {
    location: client.location,
    files: all.length,
    vanished: checked.filter((c) => c.vanished).length,
    bytes: all.reduce((n, f) => n + f.size, 0),
    levels: summarize(levels),
    latestTXID: replicaMax(levels),
    pageSize: sizes.pageSize,
    chain: chain.plan?.files ?? [],
    continuity: continuity(levels),
    snapshots: filesOf(levels, SNAPSHOT_LEVEL).map((s) => s.maxTXID),
    problems,
  };
  // A deep restore of a replica already known to be broken would only repeat the first problem.
  if (opts.deep && problems.length === 0) report.deep = await deepCheck(client, report, opts);
  if (report.deep && "error" in report.deep) problems.push(problem("integrity", report.deep.error));
  return report;
}

function summarize(levels: Levels): LevelSummary[] {
  const out: LevelSummary[] = [];
  for (let level = 0; level <= SNAPSHOT_LEVEL; level++) {
    const files = filesOf(levels, level);
    if (files.length === 0) continue;
    let min: bigint | null = null;
    let max: bigint | null = null;
    for (const f of files) {
      if (min === null || f.minTXID < min) min = f.minTXID;
      if (max === null || f.maxTXID > max) max = f.maxTXID;
    }
    out.push({
      level,
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      minTXID: min,
      maxTXID: max,
    });
  }
  return out;
}

async function deepCheck(
  client: ReplicaClient,
  report: VerifyReport,
  opts: VerifyOptions,
): Promise<{ txid: bigint; integrity: "ok" } | { error: string }> {
  const dir = await mkdtemp(join(opts.tempDir ?? tmpdir(), "walship-verify-"));
  try {
    const r = await restore(client, {
      output: join(dir, "verify.db"),
      integrityCheck: "full",
      signal: opts.signal,
    });
    if (r.txid !== report.latestTXID) {
      return { error: `deep restore reached TXID ${r.txid}, expected ${report.latestTXID}` };
    }
    return { txid: r.txid, integrity: "ok" };
  } catch (e) {
    if (!isWalshipError(e) || e.code === "aborted" || e.code.startsWith("storage")) throw e;
    return { error: `deep restore failed: ${e.message}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
