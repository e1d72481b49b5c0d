// A small notes service that keeps its SQLite database safe with walship, in-process:
//   1. on boot, restore the database from the replica if the file is missing (a fresh container);
//   2. open it (WAL mode, busy_timeout) and start replicating it with the app's own better-sqlite3 handle;
//   3. serve HTTP; a POST is acknowledged only once walship confirms the write is on the replica;
//   4. on SIGTERM/SIGINT stop taking requests, upload what is left, close the database, exit 0.
//
// Run (after `npm run build` in the repository root):
//   DB_PATH=./data/notes.db REPLICA_URL=./data/replica PORT=8080 node examples/notes-app/server.mjs
//   curl -d 'buy milk' localhost:8080/notes ; curl localhost:8080/notes
// REPLICA_URL may be s3://bucket/notes?endpoint=... with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set.
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { dirname } from "node:path";
import Database from "better-sqlite3";
// In an app this is `from "walship"`; the example runs against the repository's build.
import { replicate, restoreIfMissing } from "../../dist/index.js";

const DB_PATH = process.env.DB_PATH ?? "./data/notes.db";
const REPLICA_URL = process.env.REPLICA_URL ?? "./data/replica";
const PORT = Number(process.env.PORT ?? 8080);
/** How long a POST waits for the replica before answering 503 (ms). */
const DURABLE_WRITE_TIMEOUT_MS = 10_000;
/** SIGTERM drain budget (ms): most supervisors kill 10 s after SIGTERM. */
const SHUTDOWN_DEADLINE_MS = 8_000;

mkdirSync(dirname(DB_PATH), { recursive: true });
const restored = await restoreIfMissing({ replica: REPLICA_URL, output: DB_PATH });
console.log(
  `boot: ${restored.status === "restored" ? `restored at TXID ${restored.txid}` : `no restore (${restored.reason})`}`,
);

const db = new Database(DB_PATH);
db.pragma("journal_mode = WAL");
// walship holds a read transaction and runs checkpoints; the app's writers wait instead of failing.
db.pragma("busy_timeout = 5000");
db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, at INTEGER NOT NULL)");

const replication = await replicate({ db, replica: REPLICA_URL, syncIntervalMs: 500 });
replication.on("error", (e) => console.error(`walship: ${e.error.message}`));
replication.on("snapshot", (e) => console.log(`walship: snapshot at TXID ${e.txid}`));

const insert = db.prepare("INSERT INTO notes (text, at) VALUES (?, ?)");
const list = db.prepare("SELECT id, text, at FROM notes ORDER BY id");

function send(res, code, value) {
  const body = `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`;
  res.writeHead(code, { "content-type": "application/json" }).end(body);
}

const server = createServer(async (req, res) => {
  try {
    if (req.method === "GET" && req.url === "/notes") return send(res, 200, list.all());
    if (req.method === "GET" && req.url === "/status") return send(res, 200, replication.status());
    if (req.method === "POST" && req.url === "/notes") {
      let text = "";
      for await (const chunk of req) text += chunk;
      const { lastInsertRowid } = insert.run(text, Date.now());
      // Durable before acknowledged: wait until the replica holds this transaction.
      const txid = await replication.sync({ timeoutMs: DURABLE_WRITE_TIMEOUT_MS });
      return send(res, 201, { id: Number(lastInsertRowid), txid });
    }
    send(res, 404, { error: "not found" });
  } catch (e) {
    send(res, 503, { error: e.message });
  }
});

server.listen(PORT, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${server.address().port}`));

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down`);
  server.close();
  server.closeAllConnections();
  const drained = await replication.close({ deadlineMs: SHUTDOWN_DEADLINE_MS });
  db.close();
  console.log(
    drained ? "replica is up to date" : "replica NOT up to date: staged files upload on next start",
  );
  process.exit(drained ? 0 : 1);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
