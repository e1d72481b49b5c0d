// A stand-in app for --exec tests. Usage: node app.mjs <db> <rows> <mode>
//   mode "exit:N"   write <rows> rows, exit with status N
//   mode "signal"   write <rows> rows, print "ready", wait for SIGTERM, write one more row, exit 0
//   mode "kill"     write <rows> rows, then kill itself with SIGKILL
//   mode "count"    print the number of rows already in the database, exit 0
import Database from "better-sqlite3";

const [path, rowsArg, mode] = process.argv.slice(2);
const db = new Database(path);
db.pragma("journal_mode = WAL");
db.pragma("busy_timeout = 5000");
db.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
if (mode === "count") {
  process.stdout.write(`count=${db.prepare("SELECT count(*) n FROM rows").get().n}\n`);
  db.close();
  process.exit(0);
}
const ins = db.prepare("INSERT INTO rows (body) VALUES (?)");
for (let i = 0; i < Number(rowsArg); i++) ins.run(`row ${i}`);
if (mode.startsWith("exit:")) {
  db.close();
  process.exit(Number(mode.slice(5)));
}
if (mode === "kill") process.kill(process.pid, "SIGKILL");
if (mode === "signal") {
  process.on("SIGTERM", () => {
    ins.run("after SIGTERM");
    db.close();
    process.stdout.write("got SIGTERM\n");
    process.exit(0);
  });
  process.stdout.write("ready\n");
  setInterval(() => {}, 1000);
}
