/**
 * Restore speed: one database of `sizeMiB` (1 KiB random-blob rows, so pages barely compress), replicated
 * by Litestream to replica path "litestream" and by walship to "walship" on one fresh S3 server (direct,
 * no proxy). Each replica is a full snapshot plus `tailTxs` small transactions written while the tool ran.
 * Then each restore is timed `repeats` times (order rotated between repeats): walship restoring its own
 * replica and Litestream's, Litestream restoring its own (and walship's, as an interop extra). Every
 * restore's row count is checked; PRAGMA quick_check runs once per pair (outside the timing).
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { startS3Server } from "../../test/helpers/s3-server.js";
import type { RestoreSpeedConfig, ToolName } from "./config.js";
import { median, round } from "./stats.js";
import { s3Url, startTool } from "./tools.js";
import { checkRows, runRestore } from "./verify.js";

export interface RestorePair {
  restorer: ToolName;
  replica: ToolName;
  ok: boolean;
  runs: Array<{ ms: number; peakRssMiB: number; cpuS: number; ok: boolean }>;
  medianMs: number | null;
  mibPerS: number | null;
  peakRssMiB: number | null;
  cpuS: number | null;
  rowsOk: boolean;
  quickCheck: string;
  error?: string;
}

export interface RestoreSpeedResult {
  sizeMiB: number;
  dbBytes: number;
  rows: number;
  generateMs: number;
  replicas: Record<string, { files: number; bytes: number; rows: number; replicateMs: number }>;
  pairs: RestorePair[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function generate(path: string, sizeMiB: number): number {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL, at REAL NOT NULL)");
  const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(1024), ?)");
  const batch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) ins.run(Date.now());
  });
  const target = sizeMiB * 1024 * 1024;
  while ((db.pragma("page_count", { simple: true }) as number) * 4096 < target) {
    batch(1000);
  }
  db.pragma("wal_checkpoint(TRUNCATE)");
  const rows = (db.prepare("SELECT max(id) AS m FROM rows").get() as { m: number }).m;
  db.close();
  return rows;
}

async function replicaFiles(client: S3ReplicaClient): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (let level = 0; level <= 9; level++) {
    for (const f of await client.list(level)) {
      files++;
      bytes += f.size;
    }
  }
  return { files, bytes };
}

export async function restoreSpeed(
  cfg: RestoreSpeedConfig,
  tools: ToolName[],
  log: (s: string) => void,
): Promise<RestoreSpeedResult[]> {
  const out: RestoreSpeedResult[] = [];
  for (const sizeMiB of cfg.sizesMiB) {
    const work = join(tmpdir(), `walship-bench-restore-${sizeMiB}-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const s3 = await startS3Server();
    if ("skip" in s3) throw new Error(s3.skip);
    try {
      const dbPath = join(work, "big.db");
      const g0 = performance.now();
      log(`restore ${sizeMiB} MiB: generating the database`);
      generate(dbPath, sizeMiB);
      const generateMs = Math.round(performance.now() - g0);
      const dbBytes = statSync(dbPath).size;
      const replicas: RestoreSpeedResult["replicas"] = {};
      for (const tool of tools) {
        log(`restore ${sizeMiB} MiB: replicating with ${tool}`);
        const client = new S3ReplicaClient({ ...s3.clientOptions(tool) });
        const t0 = performance.now();
        const tp = startTool(tool, {
          dbs: [dbPath],
          bucket: s3.bucket,
          endpoint: s3.endpoint,
          syncIntervalMs: 1000,
          workDir: work,
          paths: [tool],
        });
        try {
          const deadline = Date.now() + 600_000;
          for (;;) {
            const { bytes } = await replicaFiles(client);
            if (bytes >= dbBytes * 0.9) break;
            if (tp.child.exitCode !== null) throw new Error(`${tool} exited: ${tp.logTail()}`);
            if (Date.now() > deadline) throw new Error(`${tool} did not upload the snapshot in 10 minutes`);
            await sleep(250);
          }
          const replicateMs = Math.round(performance.now() - t0);
          const db = new Database(dbPath);
          db.pragma("busy_timeout = 10000");
          const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(1024), ?)");
          for (let i = 0; i < cfg.tailTxs; i++) {
            ins.run(Date.now());
            await sleep(50);
          }
          const rows = (db.prepare("SELECT max(id) AS m FROM rows").get() as { m: number }).m;
          db.close();
          await sleep(3000);
          const stop = await tp.stop();
          if (stop.code !== 0) throw new Error(`${tool} exited with ${stop.code}: ${tp.logTail()}`);
          replicas[tool] = { ...(await replicaFiles(client)), rows, replicateMs };
        } finally {
          if (tp.child.exitCode === null) tp.child.kill("SIGKILL");
          await client.close();
        }
      }
      const pairs: Array<[ToolName, ToolName]> = [];
      for (const restorer of tools) for (const replica of tools) pairs.push([restorer, replica]);
      const acc = new Map<string, RestorePair>();
      for (const [restorer, replica] of pairs) {
        acc.set(`${restorer}<${replica}`, {
          restorer,
          replica,
          ok: true,
          runs: [],
          medianMs: null,
          mibPerS: null,
          peakRssMiB: null,
          cpuS: null,
          rowsOk: true,
          quickCheck: "not run",
        });
      }
      for (let rep = 0; rep < cfg.repeats; rep++) {
        const order = pairs.map((_, i) => pairs[(i + rep) % pairs.length]!);
        for (const [restorer, replica] of order) {
          const p = acc.get(`${restorer}<${replica}`)!;
          if (!p.ok) continue;
          const outDb = join(work, `restored-${restorer}-from-${replica}.db`);
          rmSync(outDb, { force: true });
          log(
            `restore ${sizeMiB} MiB: ${restorer} restoring ${replica}'s replica (run ${rep + 1}/${cfg.repeats})`,
          );
          const r = await runRestore(restorer, s3Url(s3.bucket, replica, s3.endpoint), outDb);
          p.runs.push({
            ms: Math.round(r.ms),
            peakRssMiB: round(r.peakRssKiB / 1024),
            cpuS: round(r.cpuS, 2),
            ok: r.ok,
          });
          if (!r.ok) {
            p.ok = false;
            p.error = r.error;
          } else {
            const c = checkRows(outDb, replicas[replica]!.rows, rep === 0);
            if (c.missing || c.extra) {
              p.rowsOk = false;
              p.ok = false;
              p.error = `${c.missing} missing, ${c.extra} extra rows`;
            }
            if (rep === 0) p.quickCheck = c.quickCheck;
            if (rep === 0 && c.quickCheck !== "ok") p.ok = false;
          }
          for (const s of ["", "-wal", "-shm"]) rmSync(outDb + s, { force: true });
        }
      }
      for (const p of acc.values()) {
        const ok = p.runs.filter((r) => r.ok);
        if (ok.length) {
          p.medianMs = median(ok.map((r) => r.ms));
          p.mibPerS = round(dbBytes / 1048576 / (p.medianMs / 1000));
          p.peakRssMiB = Math.max(...ok.map((r) => r.peakRssMiB));
          p.cpuS = median(ok.map((r) => r.cpuS));
        }
      }
      const rows = Math.max(...Object.values(replicas).map((r) => r.rows));
      out.push({ sizeMiB, dbBytes, rows, generateMs, replicas, pairs: [...acc.values()] });
    } finally {
      await s3.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }
  return out;
}
