/**
 * The workload: one process that writes to many databases (`fork`ed by the bench with IPC). Every
 * database gets `rate` transactions per second, each inserting `rowsPerTx` rows of `rowBytes` random bytes
 * (SQLite's randomblob) with the commit time in column `at`. The transactions of all databases are spread
 * evenly in time (database i starts i/N of an interval after database 0), and the loop catches up when it
 * falls behind, so every scheduled transaction is committed; how late the writer ran is reported.
 *
 * Protocol: the parent sends {type:"prepare"} -> databases are created (WAL mode, table) -> {type:"ready"};
 * the parent sends {type:"go"} -> writes for durationMs -> {type:"done", ...} with, per database, the last
 * row id and commit time of every transaction (written to outFile as JSON).
 *
 * SQLite settings are what a WAL app normally uses: journal_mode=WAL, synchronous=NORMAL, the default
 * wal_autocheckpoint (1000 pages) and busy_timeout 10 s.
 */
import { writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { nowMs } from "./clock.js";

export interface WriterSpec {
  dbs: string[];
  rate: number;
  rowsPerTx: number;
  rowBytes: number;
  durationMs: number;
  outFile: string;
}

export interface WriterDbResult {
  path: string;
  /** Per transaction: the last row id it inserted and its commit time (ms, wall clock). */
  lastIds: number[];
  commitMs: number[];
}

export interface WriterResult {
  startMs: number;
  endMs: number;
  txs: number;
  rows: number;
  /** How far behind schedule the writer ever was, and the 99th percentile of that, in ms. */
  maxBehindMs: number;
  p99BehindMs: number;
  busyErrors: number;
  dbs: WriterDbResult[];
}

type Msg = { type: "prepare" } | { type: "go" };

function send(m: unknown): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as WriterSpec;
  const conns: Database.Database[] = [];
  const txs: Array<() => number> = [];
  let busyErrors = 0;

  const prepare = () => {
    for (const path of spec.dbs) {
      const db = new Database(path);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 10000");
      db.exec(
        "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL, at REAL NOT NULL)",
      );
      const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(?), ?)");
      const one = () => Number(ins.run(spec.rowBytes, nowMs()).lastInsertRowid);
      const many = db.transaction(() => {
        let id = 0;
        for (let i = 0; i < spec.rowsPerTx; i++) id = Number(ins.run(spec.rowBytes, nowMs()).lastInsertRowid);
        return id;
      });
      conns.push(db);
      txs.push(spec.rowsPerTx === 1 ? one : () => many());
    }
  };

  const run = async (): Promise<WriterResult> => {
    const n = spec.dbs.length;
    const interval = 1000 / spec.rate;
    const step = interval / n;
    const total = Math.floor((spec.durationMs / 1000) * spec.rate) * n;
    const results: WriterDbResult[] = spec.dbs.map((path) => ({ path, lastIds: [], commitMs: [] }));
    const behind: number[] = [];
    const start = nowMs() + 20;
    let e = 0;
    while (e < total) {
      const now = nowMs();
      while (e < total && start + e * step <= now) {
        const i = e % n;
        const due = start + e * step;
        let id: number;
        for (;;) {
          try {
            id = txs[i]!();
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
            busyErrors++;
          }
        }
        const t = nowMs();
        results[i]!.lastIds.push(id);
        results[i]!.commitMs.push(t);
        if ((e & 15) === 0) behind.push(t - due);
        e++;
      }
      if (e < total) {
        const wait = start + e * step - nowMs();
        await new Promise((r) => setTimeout(r, Math.max(0, Math.floor(wait))));
      }
    }
    const endMs = nowMs();
    behind.sort((a, b) => a - b);
    return {
      startMs: start,
      endMs,
      txs: total,
      rows: total * spec.rowsPerTx,
      maxBehindMs: behind.length ? behind[behind.length - 1]! : 0,
      p99BehindMs: behind.length ? behind[Math.floor(behind.length * 0.99)]! : 0,
      busyErrors,
      dbs: results,
    };
  };

  process.on("message", (m: Msg) => {
    if (m.type === "prepare") {
      prepare();
      send({ type: "ready" });
    } else if (m.type === "go") {
      void run().then(
        (r) => {
          for (const c of conns) c.close();
          writeFileSync(spec.outFile, JSON.stringify(r));
          send({ type: "done" });
          process.disconnect?.();
        },
        (err) => {
          send({ type: "error", message: String((err as Error).stack ?? err) });
          process.exit(1);
        },
      );
    }
  });
  send({ type: "started" });
}

await main();
