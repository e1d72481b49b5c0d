/**
 * The apps of a soak run, in one process: commits model transactions (test/chaos/model.ts) round-robin
 * across the databases at `rate` transactions per second in total, until SIGTERM; then prints one JSON
 * line with the last n committed per database.
 *   node --import tsx test/chaos/soak-writer.ts <rate> <db> [<db> ...]
 */
import Database from "better-sqlite3";
import { commitTxn } from "./model.js";

/** Apps wait this long (ms) for walship's checkpoint barrier. */
const APP_BUSY_TIMEOUT_MS = 10_000;

const [rateArg, ...paths] = process.argv.slice(2);
const dbs = paths.map((p) => {
  const d = new Database(p);
  d.pragma("journal_mode = WAL");
  d.pragma(`busy_timeout = ${APP_BUSY_TIMEOUT_MS}`);
  return d;
});
const last = paths.map(() => 0);
let stop = false;
process.on("SIGTERM", () => {
  stop = true;
});
const interval = 1000 / Number(rateArg ?? 20);
const start = Date.now();
for (let i = 0; !stop; i++) {
  const k = i % dbs.length;
  last[k]! += 1;
  commitTxn(dbs[k]!, last[k]!);
  const wait = start + (i + 1) * interval - Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, wait)));
}
for (const d of dbs) d.close();
process.stdout.write(`${JSON.stringify({ last })}\n`);
