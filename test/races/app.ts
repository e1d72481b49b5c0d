/**
 * The app in the race tests, in its own process (SQLite locks between processes are what walship meets
 * in production). Commands on stdin, one answer line each on stdout:
 *   w <k>          commit the next k model transactions (test/chaos/model.ts)     -> ok <last n>
 *   cp <MODE>      PRAGMA wal_checkpoint(MODE)                                    -> ok <busy> <log> <ckpt>
 *   vacuum         VACUUM                                                         -> ok
 *   jm <mode>      PRAGMA journal_mode = <mode>                                   -> ok <mode now>
 *   close | open   close / reopen the connection                                  -> ok
 * A failing command answers "err <message>" and the app carries on.
 * Writes wait up to WRITE_BUSY_MS for walship's checkpoint barrier, as an app would; checkpoints wait the
 * given busy timeout (short: a FULL/RESTART/TRUNCATE checkpoint that walship's reader blocks gives up).
 *   node --import tsx test/races/app.ts <db> <checkpoint busy timeout ms>
 */
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { commitTxn } from "../chaos/model.js";

/** How long (ms) a write waits for a lock: walship's barrier lasts one capture. */
const WRITE_BUSY_MS = 10_000;

const [path, busyArg] = process.argv.slice(2);
if (!path) throw new Error("usage: app.ts <db> <checkpoint busy timeout ms>");
const checkpointBusyMs = Number(busyArg ?? 5000);
const open = (): Database.Database => {
  const d = new Database(path);
  d.pragma(`busy_timeout = ${WRITE_BUSY_MS}`);
  return d;
};
let db: Database.Database | null = open();
let n = (db.prepare("SELECT coalesce(max(n), 0) AS m FROM txlog").get() as { m: number }).m;

function run(cmd: string, arg: string | undefined): string {
  if (cmd === "open") {
    db ??= open();
    return "ok";
  }
  if (!db) throw new Error("closed");
  switch (cmd) {
    case "w":
      for (let i = 0; i < Number(arg); i++) commitTxn(db, ++n);
      return `ok ${n}`;
    case "cp": {
      db.pragma(`busy_timeout = ${checkpointBusyMs}`);
      try {
        const r = db.prepare(`PRAGMA wal_checkpoint(${arg})`).get() as {
          busy: number;
          log: number;
          checkpointed: number;
        };
        return `ok ${r.busy} ${r.log} ${r.checkpointed}`;
      } finally {
        db.pragma(`busy_timeout = ${WRITE_BUSY_MS}`);
      }
    }
    case "vacuum":
      db.exec("VACUUM");
      return "ok";
    case "jm":
      return `ok ${String(db.pragma(`journal_mode = ${arg}`, { simple: true }))}`;
    case "close":
      db.close();
      db = null;
      return "ok";
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  try {
    process.stdout.write(`${run(cmd ?? "", arg)}\n`);
  } catch (e) {
    process.stdout.write(`err ${(e as Error).message.replace(/\n/g, " ")}\n`);
    if ((e as Error).message === "closed") return;
  }
});
