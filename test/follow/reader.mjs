// A reader of a follower's database, as an app would be: one ordinary better-sqlite3 connection held open
// for the whole run, querying in a loop. Each query is one read transaction that must return a state the
// primary had (see seq-writer.mjs): rows 1..k, every body right, meta.k = k. SQLITE_BUSY is the only
// acceptable error (counted and retried). On SIGTERM it prints a JSON summary.
//   node reader.mjs <db>
import Database from "better-sqlite3";

/** Short on purpose, so waits for the follower's lock surface as SQLITE_BUSY and are counted. */
const BUSY_TIMEOUT_MS = 50;
const QUICK_CHECK_EVERY = 40;
const CHECK_SQL = `SELECT (SELECT k FROM meta) AS k, count(*) AS n, min(id) AS lo, max(id) AS hi,
  total(body <> replace(hex(zeroblob(100)), '00', printf('%08d:', id))) AS bad FROM rows`;

const db = process.argv[2];
const s = {
  iterations: 0,
  busy: 0,
  errorCount: 0,
  errors: [],
  bad: [],
  distinctK: 0,
  minK: null,
  maxK: 0,
  regressions: 0,
  quickChecks: 0,
};
let stop = false;
process.on("SIGTERM", () => {
  stop = true;
});
const conn = new Database(db, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
const check = conn.prepare(CHECK_SQL);
const quick = conn.prepare("PRAGMA quick_check");
let lastK = -1;
while (!stop) {
  try {
    if (s.iterations % QUICK_CHECK_EVERY === QUICK_CHECK_EVERY - 1) {
      const r = quick.all().map((x) => x.quick_check);
      s.quickChecks++;
      if (r.length !== 1 || r[0] !== "ok") s.bad.push(`quick_check: ${r.slice(0, 3).join("; ")}`);
    }
    const r = check.get();
    const hi = r.hi ?? 0;
    if (r.k !== hi || r.n !== hi || (r.n > 0 && r.lo !== 1) || r.bad !== 0) {
      if (s.bad.length < 5) s.bad.push(JSON.stringify(r));
    }
    if (r.k !== lastK) {
      if (r.k < lastK) s.regressions++;
      s.distinctK++;
      lastK = r.k;
    }
    s.minK ??= r.k;
    s.maxK = Math.max(s.maxK, r.k);
  } catch (e) {
    if (typeof e.code === "string" && e.code.startsWith("SQLITE_BUSY")) s.busy++;
    else {
      s.errorCount++;
      if (s.errors.length < 5) s.errors.push(`${e.code}: ${e.message}`);
    }
  }
  s.iterations++;
  await new Promise((r) => setTimeout(r, 1));
}
conn.close();
process.stdout.write(`${JSON.stringify(s)}\n`);
