/**
 * The chaos workload and its oracle. Transaction n is a pure function of n: it inserts 1..4 rows (every
 * 7th transaction 24 larger ones, to grow the WAL past checkpoint thresholds), deletes the rows and the
 * ledger entry of transaction n - KEEP (free pages, page reuse, and a database that stays small however
 * long the run), bumps a one-row total and appends to the ledger. So the
 * database after the first m transactions is known exactly, and any restored image can be checked against
 * it: a restore is correct iff it equals "the first m transactions" for one m, with every transaction
 * either wholly present or wholly absent.
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";

/** Rows of transaction n are deleted by transaction n + KEEP: the live set stays bounded. */
export const KEEP = 60;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS txlog (n INTEGER PRIMARY KEY, rows INTEGER NOT NULL, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (n INTEGER NOT NULL, k INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (n, k));
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), sum INTEGER NOT NULL, count INTEGER NOT NULL);
INSERT OR IGNORE INTO totals (id, sum, count) VALUES (1, 0, 0);
`;

function mix(x: number): number {
  let h = x >>> 0 || 0x9e3779b9;
  h ^= h << 13;
  h >>>= 0;
  h ^= h >>> 17;
  h ^= h << 5;
  return h >>> 0;
}

export function rowsOf(n: number): number {
  return n % 7 === 0 ? 24 : 1 + (mix(n) % 4);
}

export function payloadOf(n: number, k: number): Buffer {
  const size = n % 7 === 0 ? 1500 + (mix(n * 31 + k) % 1500) : 60 + (mix(n * 131 + k) % 2400);
  const out = Buffer.allocUnsafe(size);
  let x = mix(n * 1_000_003 + k * 7919 + 1);
  for (let i = 0; i < size; i += 4) {
    x = mix(x);
    out.writeUInt32LE(x, Math.min(i, size - 4));
  }
  return out;
}

export function digestOf(n: number): string {
  const h = createHash("sha256");
  for (let k = 0; k < rowsOf(n); k++) h.update(payloadOf(n, k));
  return h.digest("hex").slice(0, 16);
}

/** Applies transaction n in one SQLite transaction. */
export function commitTxn(db: Database.Database, n: number): void {
  const ins = db.prepare("INSERT INTO items (n, k, payload) VALUES (?, ?, ?)");
  db.transaction(() => {
    for (let k = 0; k < rowsOf(n); k++) ins.run(n, k, payloadOf(n, k));
    if (n > KEEP) {
      db.prepare("DELETE FROM items WHERE n = ?").run(n - KEEP);
      db.prepare("DELETE FROM txlog WHERE n = ?").run(n - KEEP);
    }
    db.prepare("UPDATE totals SET sum = sum + ?, count = count + 1 WHERE id = 1").run(n);
    db.prepare("INSERT INTO txlog (n, rows, digest) VALUES (?, ?, ?)").run(n, rowsOf(n), digestOf(n));
  })();
}

export class StateMismatch extends Error {}

/**
 * Checks that the database at `path` is exactly the state after its own last transaction m, and returns
 * m. Throws StateMismatch naming the first difference (a half-present transaction, a wrong payload, a
 * broken total, a failed integrity check).
 */
export function checkState(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const ic = db.prepare("PRAGMA integrity_check").all() as Array<{ integrity_check: string }>;
    if (ic.length !== 1 || ic[0]!.integrity_check !== "ok") {
      throw new StateMismatch(`integrity_check: ${ic.map((r) => r.integrity_check).join("; ")}`);
    }
    const log = db.prepare("SELECT count(*) AS c, min(n) AS lo, max(n) AS hi FROM txlog").get() as {
      c: number;
      lo: number | null;
      hi: number | null;
    };
    const m = log.hi ?? 0;
    const lo = Math.max(1, m - KEEP + 1);
    if (log.c !== Math.min(m, KEEP) || (m > 0 && log.lo !== lo)) {
      throw new StateMismatch(`ledger holds ${log.c} transactions between ${log.lo} and ${log.hi}: a hole`);
    }
    const digests = db.prepare("SELECT n, digest FROM txlog").all() as Array<{ n: number; digest: string }>;
    for (const d of digests) {
      if (d.digest !== digestOf(d.n)) throw new StateMismatch(`ledger entry ${d.n}: wrong digest`);
    }
    const t = db.prepare("SELECT sum, count FROM totals WHERE id = 1").get() as {
      sum: number;
      count: number;
    };
    if (t.count !== m || t.sum !== (m * (m + 1)) / 2) {
      throw new StateMismatch(
        `totals (${t.sum}, ${t.count}) disagree with ledger max ${m}: a torn transaction`,
      );
    }
    const beyond = db.prepare("SELECT count(*) AS c FROM items WHERE n > ? OR n <= ?").get(m, m - KEEP) as {
      c: number;
    };
    if (beyond.c !== 0)
      throw new StateMismatch(`${beyond.c} rows belong to transactions outside (${m - KEEP}, ${m}]`);
    const rows = db.prepare("SELECT k, payload FROM items WHERE n = ? ORDER BY k");
    for (let n = Math.max(1, m - KEEP + 1); n <= m; n++) {
      const got = rows.all(n) as Array<{ k: number; payload: Buffer }>;
      if (got.length !== rowsOf(n)) {
        throw new StateMismatch(`transaction ${n} has ${got.length} of its ${rowsOf(n)} rows: half-present`);
      }
      for (const r of got) {
        if (!r.payload.equals(payloadOf(n, r.k)))
          throw new StateMismatch(`transaction ${n} row ${r.k}: wrong bytes`);
      }
    }
    return m;
  } finally {
    db.close();
  }
}
