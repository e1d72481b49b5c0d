// The primary's writer for the follow tests: transaction k inserts row k, whose body is a pure function of
// k, and sets meta.k = k, so any state the primary ever had is "rows 1..k with the right bodies and
// meta.k = k" and a reader can check that a result is one of them. Every CHURN transactions a scratch
// table is filled and, CHURN/2 later, emptied; with auto_vacuum=FULL the file grows and shrinks, so
// followers must truncate as well as extend. Runs until SIGTERM or <seconds> (0 = no limit), then prints
// the last k. With "init" it only creates the schema (so a replicator can start on the file first).
//   node seq-writer.mjs <db> <tx-per-second> <seconds>
//   node seq-writer.mjs <db> init
import Database from "better-sqlite3";

const CHURN = 40;
const [db, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const conn = new Database(db);
conn.pragma("busy_timeout = 10000");
// auto_vacuum must be chosen before the first table exists; it is ignored on an existing database.
conn.pragma("auto_vacuum = FULL");
conn.pragma("journal_mode = WAL");
conn.exec(`
  CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS meta (one INTEGER PRIMARY KEY CHECK (one = 1), k INTEGER NOT NULL);
  INSERT OR IGNORE INTO meta VALUES (1, 0);
  CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, pad BLOB NOT NULL);
`);
const insert = conn.prepare(
  "INSERT INTO rows (id, body) VALUES (@k, replace(hex(zeroblob(100)), '00', printf('%08d:', @k)))",
);
const setK = conn.prepare("UPDATE meta SET k = ?");
const fill = conn.prepare(
  "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 30) INSERT INTO scratch (pad) SELECT randomblob(3000) FROM c",
);
const empty = conn.prepare("DELETE FROM scratch");
const tx = conn.transaction((k) => {
  insert.run({ k });
  setK.run(k);
  if (k % CHURN === 0) fill.run();
  if (k % CHURN === CHURN / 2) empty.run();
});
let k = conn.prepare("SELECT k FROM meta").get().k;
if (rateArg === "init") {
  conn.close();
  process.stdout.write(`${JSON.stringify({ k, committed: 0 })}\n`);
  process.exit(0);
}
let stop = false;
process.on("SIGTERM", () => {
  stop = true;
});
const start = Date.now();
let n = 0;
while (!stop && (seconds <= 0 || Date.now() - start < seconds * 1000)) {
  tx(++k);
  n++;
  const wait = start + (n * 1000) / rate - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
conn.close();
process.stdout.write(`${JSON.stringify({ k, committed: n })}\n`);
