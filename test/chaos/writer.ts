/**
 * The app in the chaos harness: commits transactions n = from, from+1, ... (model.ts) at about `rate` per
 * second into `db` with its own connection and SQLite's default autocheckpoint, printing "c <n>" after
 * each commit, until SIGTERM. Runs in its own process, so walship's death never stops it. On stdin, "q"
 * makes it checkpoint (PASSIVE) and go quiet, "g" makes it go on: the harness uses that to start walship
 * on a fully checkpointed WAL that the app restarts a moment later.
 *   node --import tsx test/chaos/writer.ts <db> <from> <rate>
 */
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { commitTxn } from "./model.js";

/** The app waits this long (ms) for walship's checkpoint barrier, like any app with a busy timeout. */
const APP_BUSY_TIMEOUT_MS = 10_000;
/**
 * The app also runs its own PASSIVE checkpoint every this many transactions (a few times a second), as
 * many apps do. While walship is down it copies every frame into the database file, so walship restarts
 * on SQLite's read mark 0 and the app's next commit restarts the WAL: the case that once lost pages.
 */
const APP_CHECKPOINT_EVERY = 37;
const [dbPath, fromArg, rateArg] = process.argv.slice(2);
if (!dbPath) throw new Error("usage: writer.ts <db> <from> <rate>");
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");
db.pragma(`busy_timeout = ${APP_BUSY_TIMEOUT_MS}`);
let stop = false;
let quiet: Promise<void> | null = null;
let go: () => void = () => {};
const control = createInterface({ input: process.stdin });
control.on("line", (l) => {
  if (l === "q" && !quiet) {
    quiet = new Promise<void>((r) => {
      go = r;
    });
  } else if (l === "g") {
    quiet = null;
    go();
  }
});
process.on("SIGTERM", () => {
  stop = true;
  go();
});
const interval = 1000 / Number(rateArg ?? 100);
let n = Number(fromArg ?? 1);
const start = Date.now();
let done = 0;
while (!stop) {
  commitTxn(db, n);
  process.stdout.write(`c ${n}\n`);
  if (n % APP_CHECKPOINT_EVERY === 0) db.pragma("wal_checkpoint(PASSIVE)");
  if (quiet) {
    db.pragma("wal_checkpoint(PASSIVE)");
    await quiet;
  }
  n++;
  done++;
  const wait = start + done * interval - Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, wait)));
}
db.close();
// The control pipe would keep the process alive.
control.close();
process.stdin.destroy();
