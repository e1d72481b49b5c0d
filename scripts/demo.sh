#!/usr/bin/env bash
# Demo of the main job on a local default: replicate a live database to ./demo/replica for a few seconds
# while a writer commits rows, stop walship with SIGTERM, restore, and compare.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/main.js ] || npm run build >/dev/null
rm -rf demo && mkdir -p demo
node -e '
const D = require("better-sqlite3");
const db = new D("demo/app.db"); db.pragma("journal_mode = WAL");
db.exec("CREATE TABLE events (id INTEGER PRIMARY KEY, body BLOB)");'
node dist/cli/main.js watch demo/app.db demo/replica &
WATCH=$!
node -e '
const D = require("better-sqlite3");
const db = new D("demo/app.db"); db.pragma("busy_timeout = 5000");
const ins = db.prepare("INSERT INTO events (body) VALUES (randomblob(1024))");
let n = 0; const t = setInterval(() => { ins.run(); n++; }, 20);
setTimeout(() => { clearInterval(t); console.log("writer committed", n, "rows"); }, 5000);'
kill -TERM $WATCH; wait $WATCH
node dist/cli/main.js ltx demo/replica
node dist/cli/main.js restore demo/replica -o demo/restored.db --integrity-check full
node -e '
const D = require("better-sqlite3");
const a = new D("demo/app.db").prepare("SELECT count(*) c, sum(length(body)) s FROM events").get();
const b = new D("demo/restored.db").prepare("SELECT count(*) c, sum(length(body)) s FROM events").get();
console.log("source:", a, "restored:", b, JSON.stringify(a) === JSON.stringify(b) ? "MATCH" : "MISMATCH");
process.exit(JSON.stringify(a) === JSON.stringify(b) ? 0 : 1);'
