// A writer process for end-to-end tests: commits numbered rows (1 KiB random blobs) at a fixed rate until
// SIGTERM or --seconds elapse, then prints the last committed id. Usage:
//   node writer.mjs <db> <tx-per-second> <seconds> [--checkpoint-truncate-every N]
import Database from "better-sqlite3";

const [db, rateArg, secondsArg, ...rest] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const truncEvery = rest[0] === "--checkpoint-truncate-every" ? Number(rest[1]) : 0;
const conn = new Database(db);
conn.pragma("journal_mode = WAL");
conn.pragma("busy_timeout = 10000");
conn.exec(
  "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL, at INTEGER NOT NULL)",
);
const ins = conn.prepare("INSERT INTO rows (body, at) VALUES (randomblob(1024), ?)");
let n = 0;
let stop = false;
process.on("SIGTERM", () => {
  stop = true;
});
const start = Date.now();
const interval = 1000 / rate;
while (!stop && Date.now() - start < seconds * 1000) {
  ins.run(Date.now());
  n++;
  if (truncEvery && n % truncEvery === 0) conn.pragma("wal_checkpoint(TRUNCATE)");
  const due = start + n * interval;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
const last = conn.prepare("SELECT max(id) m FROM rows").get().m;
conn.close();
process.stdout.write(`${JSON.stringify({ committed: n, lastId: last })}\n`);
