/**
 * Corpus: bad databases given to `walship watch`: missing, not SQLite, not WAL, a directory, locked
 * exclusively by another process, unreadable, read-only, in a read-only directory, an unwritable meta
 * directory. Each fails at start with one line naming the database and the fix, writes no replica file
 * and leaves the database's bytes alone. Permission cases run the CLI as uid/gid 65534 (nobody), since CI
 * runs as root, for whom every mode bit is moot.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { EXIT_CODES } from "../../src/errors.js";
import { repoRoot, waitFor } from "../helpers/cli.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { type CliCase, runCase } from "./cli-case.js";

const NOBODY = { uid: 65534, gid: 65534 };
const dir = tempDir("walship-corpus-db-");
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

const asRoot = () => (process.getuid?.() === 0 ? false : "needs root to run the CLI as uid 65534");

/** A WAL database with one row, closed (no -wal left), in a world-readable directory of its own. */
function walDb(d: string, name = "app.db"): string {
  mkdirSync(d, { recursive: true, mode: 0o755 });
  chmodSync(d, 0o755);
  const p = join(d, name);
  const db = createWalDb(p);
  db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(100), 1)").run();
  db.close();
  return p;
}

function watch(db: string, d: string): string[] {
  return ["watch", db, join(d, "replica"), "--no-metrics", "--busy-timeout", "1s"];
}

let holder: ChildProcess | undefined;
after(() => holder?.kill("SIGKILL"));

const cases: CliCase[] = [
  {
    name: "missing database",
    setup: (d) => ({ args: watch(join(d, "nope.db"), d), unchanged: [join(d, "replica")] }),
    code: EXIT_CODES.database,
    says: [/database not found: .*nope\.db/, /restore it first/],
  },
  {
    name: "dangling symlink as the database",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      symlinkSync(join(d, "gone.db"), join(d, "link.db"));
      return { args: watch(join(d, "link.db"), d), unchanged: [join(d, "replica")] };
    },
    code: EXIT_CODES.database,
    says: [/database not found: .*link\.db/],
  },
  {
    name: "not a SQLite file",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      const p = join(d, "notes.db");
      writeFileSync(p, "these are my notes, not a database. ".repeat(20));
      return { args: watch(p, d), unchanged: [p, join(d, "replica")] };
    },
    code: EXIT_CODES.database,
    says: [/not a SQLite database: .*notes\.db/, /SQLite database file/],
  },
  {
    name: "SQLite header followed by garbage",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      const p = join(d, "garbled.db");
      const b = Buffer.alloc(8192, 0xa5);
      b.write("SQLite format 3\0", 0, "latin1");
      writeFileSync(p, b);
      return { args: watch(p, d), unchanged: [p, join(d, "replica")] };
    },
    code: EXIT_CODES.database,
    says: [/garbled\.db/],
  },
  {
    name: "a rollback-journal (non-WAL) database",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      const p = join(d, "delete.db");
      const db = new Database(p);
      db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
      db.close();
      return { args: watch(p, d), unchanged: [p, join(d, "replica")] };
    },
    code: EXIT_CODES.database,
    says: [/not in WAL mode \(journal_mode=delete\): .*delete\.db/, /PRAGMA journal_mode=WAL/],
  },
  {
    name: "an empty (0-byte) file",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "empty.db"), "");
      return { args: watch(join(d, "empty.db"), d), unchanged: [join(d, "empty.db"), join(d, "replica")] };
    },
    code: EXIT_CODES.database,
    says: [/not in WAL mode .*empty\.db/, /journal_mode=WAL/],
  },
  {
    name: "a directory given as the database",
    setup: (d) => {
      mkdirSync(join(d, "data.db"), { recursive: true });
      return { args: watch(join(d, "data.db"), d), unchanged: [join(d, "replica")] };
    },
    code: EXIT_CODES.database,
    says: [/not a database file: .*data\.db is a directory/, /database file itself/],
  },
  {
    name: "locked exclusively by another process",
    setup: async (d) => {
      const p = walDb(d);
      // The app: exclusive locking mode plus a write keeps SQLite's exclusive lock until it exits.
      holder = spawn(
        process.execPath,
        [
          "-e",
          `const D=require("better-sqlite3");const d=new D(${JSON.stringify(p)});d.pragma("locking_mode=EXCLUSIVE");d.exec("INSERT INTO rows(body,at) VALUES (x'00',2)");console.log("held");setInterval(()=>{},1000)`,
        ],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] },
      );
      let out = "";
      holder.stdout?.on("data", (b) => (out += b));
      await waitFor(() => out.includes("held"), 20_000, "the exclusive holder");
      return {
        args: watch(p, d),
        unchanged: [p, `${p}-wal`, join(d, "replica")],
        cleanup: () => holder?.kill("SIGKILL"),
      };
    },
    code: EXIT_CODES.database,
    says: [/app\.db is locked by another process/, /locking_mode=NORMAL/],
  },
  {
    name: "permission denied on the database (uid 65534)",
    skip: asRoot,
    setup: (d) => {
      const p = walDb(d);
      chmodSync(p, 0o600);
      return { args: watch(p, d), unchanged: [p, join(d, "replica")], ...NOBODY };
    },
    code: EXIT_CODES.general,
    says: [/permission denied on .*app\.db/, /owner and mode/],
  },
  {
    name: "database readable but not writable (uid 65534)",
    skip: asRoot,
    setup: (d) => {
      const p = walDb(d);
      chmodSync(p, 0o644);
      return { args: watch(p, d), unchanged: [p, join(d, "replica")], ...NOBODY };
    },
    code: EXIT_CODES.general,
    says: [/cannot write database .*app\.db/, /read-write access/],
  },
  {
    name: "database directory not writable: no -wal/-shm (uid 65534)",
    skip: asRoot,
    setup: (d) => {
      const p = walDb(d);
      chmodSync(p, 0o666);
      chmodSync(d, 0o755);
      return { args: watch(p, d), unchanged: [p, join(d, "replica")], ...NOBODY };
    },
    code: EXIT_CODES.general,
    says: [/cannot write database .*app\.db/, /its directory/],
  },
  {
    name: "permission denied on the meta directory (uid 65534)",
    skip: asRoot,
    setup: (d) => {
      const p = walDb(d);
      chmodSync(p, 0o666);
      chmodSync(d, 0o777);
      mkdirSync(join(d, ".app.db-walship"), { mode: 0o700 });
      return { args: watch(p, d), unchanged: [p, join(d, "replica")], ...NOBODY };
    },
    code: EXIT_CODES.general,
    says: [/lock meta directory: permission denied on .*\.app\.db-walship/, /owner and mode/],
  },
];

describe("corpus: bad databases for watch", () => {
  cases.forEach((c, i) => {
    it(c.name, async (t) => {
      const reason = c.skip?.();
      if (reason) return t.skip(reason);
      await runCase(c, join(dir, `case-${i}`));
    });
  });
});
