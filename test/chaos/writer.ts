/**
 * The app in the chaos harness: commits transactions n = from, from+1, ... (model.ts) at about `rate` per
 * second into `db` with its own connection and SQLite's default autocheckpoint, printing "c <n>" after
 * each commit, until SIGTERM. Runs in its own process, so walship's death never stops it.
 *   node --import tsx test/chaos/writer.ts <db> <from> <rate>
 */
import Database from "better-sqlite3";
import { commitTxn } from "./model.js";

/** The app waits this long (ms) for walship's checkpoint barrier, like any app with a busy timeout. */
const APP_BUSY_TIMEOUT_MS = 10_000;

const [dbPath, fromArg, rateArg] = process.argv.slice(2);
if (!dbPath) throw new Error("usage: writer.ts <db> <from> <rate>");
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");
db.pragma(`busy_timeout = ${APP_BUSY_TIMEOUT_MS}`);
let stop = false;
process.on("SIGTERM", () => {
  stop = true;
});
const interval = 1000 / Number(rateArg ?? 100);
let n = Number(fromArg ?? 1);
const start = Date.now();
let done = 0;
while (!stop) {
  commitTxn(db, n);
  process.stdout.write(`c ${n}\n`);
  n++;
  done++;
  const wait = start + done * interval - Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, wait)));
}
db.close();
