/** Helpers for tests on real SQLite files. */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";

export function tempDir(prefix = "walship-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function createWalDb(path: string, pageSize = 4096): Database.Database {
  const db = new Database(path);
  db.pragma(`page_size = ${pageSize}`);
  db.pragma("journal_mode = WAL");
  db.exec(
    "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL, at INTEGER NOT NULL)",
  );
  return db;
}

/** A hash of the logical content of every user table (order by rowid), for point-in-time comparisons. */
export function contentHash(db: Database.Database): string {
  const h = createHash("sha256");
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as Array<{ name: string }>;
  for (const { name } of tables) {
    h.update(`table ${name}\n`);
    for (const row of db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).iterate()) {
      h.update(JSON.stringify(row, (_k, v) => (Buffer.isBuffer(v) ? v.toString("base64") : v)));
    }
  }
  return h.digest("hex");
}

export function fileContentHash(path: string): string {
  const db = new Database(path);
  try {
    return contentHash(db);
  } finally {
    db.close();
  }
}

export function integrityCheck(path: string): string {
  const db = new Database(path);
  try {
    return (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
  } finally {
    db.close();
  }
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
