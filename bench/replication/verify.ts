/**
 * Zero-loss check: restore a replica with a tool's own restore command and compare the rows with what the
 * writer recorded as committed. Ids are 1..N with no gaps (one writer, INTEGER PRIMARY KEY, no deletes),
 * so "missing" = committed ids not present in the restored table.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import Database from "better-sqlite3";
import type { ToolName } from "./config.js";
import { ProcSampler } from "./proc.js";
import { restoreCommand } from "./tools.js";

export interface RestoreRun {
  ok: boolean;
  ms: number;
  peakRssKiB: number;
  cpuS: number;
  error?: string;
}

/** Runs the tool's restore CLI once; wall time, peak RSS (VmHWM) and CPU from /proc. */
export function runRestore(tool: ToolName, url: string, out: string, sampleMs = 50): Promise<RestoreRun> {
  const { bin, args, env } = restoreCommand(tool, url, out);
  const t0 = performance.now();
  const child = spawn(bin, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const s = new ProcSampler(child.pid!, sampleMs).start();
  let err = "";
  child.stderr!.on("data", (d) => {
    err = (err + d).slice(-2000);
  });
  return new Promise((resolve) => {
    child.on("exit", (code) => {
      const ms = performance.now() - t0;
      s.stop();
      resolve({
        ok: code === 0,
        ms,
        peakRssKiB: s.hwmKiB,
        cpuS: s.last?.cpuS ?? 0,
        error: code === 0 ? undefined : `exit ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`,
      });
    });
  });
}

export interface RowCheck {
  rows: number;
  missing: number;
  extra: number;
  quickCheck: string;
}

export function checkRows(path: string, lastId: number, quick = true): RowCheck {
  const db = new Database(path, { readonly: true });
  try {
    const upTo = (db.prepare("SELECT count(*) AS n FROM rows WHERE id <= ?").get(lastId) as { n: number }).n;
    const beyond = (db.prepare("SELECT count(*) AS n FROM rows WHERE id > ?").get(lastId) as { n: number }).n;
    const qc = quick ? String(Object.values(db.prepare("PRAGMA quick_check").get() as object)[0]) : "skipped";
    return { rows: upTo + beyond, missing: lastId - upTo, extra: beyond, quickCheck: qc };
  } finally {
    db.close();
  }
}

export interface LossResult {
  databases: number;
  restoreFailures: number;
  missingRows: number;
  extraRows: number;
  quickCheckFailures: number;
  committedRows: number;
  /** Wall time of all restores (run `concurrency` at a time). */
  totalMs: number;
  medianRestoreMs: number;
  failures: string[];
}

export async function verifyAll(
  tool: ToolName,
  items: Array<{ url: string; out: string; lastId: number }>,
  concurrency = 4,
): Promise<LossResult> {
  const t0 = performance.now();
  const r: LossResult = {
    databases: items.length,
    restoreFailures: 0,
    missingRows: 0,
    extraRows: 0,
    quickCheckFailures: 0,
    committedRows: 0,
    totalMs: 0,
    medianRestoreMs: 0,
    failures: [],
  };
  const times: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const it = items[next++]!;
      r.committedRows += it.lastId;
      const run = await runRestore(tool, it.url, it.out, 250);
      times.push(run.ms);
      if (!run.ok) {
        r.restoreFailures++;
        r.missingRows += it.lastId;
        if (r.failures.length < 5) r.failures.push(`${it.url}: ${run.error}`);
        continue;
      }
      const c = checkRows(it.out, it.lastId);
      r.missingRows += c.missing;
      r.extraRows += c.extra;
      if (c.quickCheck !== "ok") r.quickCheckFailures++;
      if ((c.missing || c.quickCheck !== "ok") && r.failures.length < 5) {
        r.failures.push(`${it.url}: ${c.missing} missing of ${it.lastId}, quick_check ${c.quickCheck}`);
      }
      rmSync(it.out, { force: true });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  times.sort((a, b) => a - b);
  r.totalMs = Math.round(performance.now() - t0);
  r.medianRestoreMs = Math.round(times[Math.floor(times.length / 2)] ?? 0);
  return r;
}
