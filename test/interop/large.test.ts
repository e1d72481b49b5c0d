/**
 * A database over 1 GiB (page size 4096, so SQLite's lock page 262145 lies inside it), replicated by
 * each tool and restored by both: latest equal to the source page for page with integrity_check ok, and
 * both tools agreeing at a TXID whose changes straddle the lock page. The slow tier: it runs when CI=true
 * or WALSHIP_SLOW=1 and skips with that reason otherwise.
 *
 * Speed: the 1.1 GiB is built outside WAL mode in one transaction (journal off, zeroblob rows, ~2 s), then
 * switched to WAL; zero pages compress to almost nothing, so the initial snapshots stay small. The steps
 * then write random pages on both sides of the lock page and grow the file.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { Backend } from "../helpers/backends.js";
import { tempDir } from "../helpers/db.js";
import { findPeers, type Peers, replicaTarget } from "../helpers/litestream.js";
import {
  App,
  checkBothReaders,
  openBackends,
  runSteps,
  sampleTXIDs,
  startTool,
  type Tool,
} from "./harness.js";

const SLOW = process.env.CI === "true" || process.env.WALSHIP_SLOW === "1";
const peers = findPeers();
const dir = tempDir("walship-interop-big-");
let bk: Awaited<ReturnType<typeof openBackends>>;

const PAGE = 4096;
const LOCK_PAGE = 0x40000000 / PAGE + 1; // 262145
const MIB = 1 << 20;
const ROWS = 1090; // 1090 x 1 MiB overflow chains: ~279k pages, past the lock page

function buildBig(path: string): void {
  const db = new Database(path);
  try {
    db.pragma(`page_size = ${PAGE}`);
    db.pragma("journal_mode = OFF");
    db.pragma("synchronous = OFF");
    db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL, at INTEGER NOT NULL)");
    const ins = db.prepare("INSERT INTO rows (body, at) VALUES (zeroblob(?), ?)");
    db.transaction(() => {
      for (let i = 0; i < ROWS; i++) ins.run(MIB, i);
    })();
    db.pragma("journal_mode = WAL");
  } finally {
    db.close();
  }
}

async function bigCase(writer: Tool, p: Peers, b: Backend, t: { diagnostic(m: string): void }) {
  const label = `${writer} wrote, ${b.name}, 1.1 GiB database across the lock page (page size ${PAGE})`;
  const caseDir = join(dir, `${writer}-${b.name}`);
  mkdirSync(caseDir, { recursive: true });
  const dbPath = join(caseDir, "app.db");
  const t0 = Date.now();
  buildBig(dbPath);
  const app = new App(dbPath, PAGE);
  const ms = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  try {
    const pages = app.db.pragma("page_count", { simple: true }) as number;
    assert.ok(pages > LOCK_PAGE + 1000, `${label}: only ${pages} pages`);
    t.diagnostic(`built ${pages} pages in ${ms(t0)}`);
    const target = replicaTarget(b, `big-${writer}`);
    const t1 = Date.now();
    const tool = await startTool(writer, p, app.path, target, { label, startTimeoutMs: 300_000 });
    t.diagnostic(`${writer} uploaded the initial snapshot in ${ms(t1)}`);
    const t2 = Date.now();
    try {
      await runSteps(
        app,
        [
          // Rows ~1015-1030 hold the pages around byte 1 GiB: rewrite them with random data.
          (a) => a.db.prepare("UPDATE rows SET body = randomblob(?) WHERE id BETWEEN 1015 AND 1030").run(MIB),
          (a) => a.insert(20, 256 * 1024),
          (a) => {
            a.db.prepare("DELETE FROM rows WHERE id BETWEEN 100 AND 120").run();
            a.insert(10, 5000);
          },
        ],
        target,
        label,
      );
    } finally {
      await tool.stop();
    }
    t.diagnostic(`steps replicated in ${ms(t2)}`);
    const t3 = Date.now();
    const ids = await sampleTXIDs(target, 4);
    await checkBothReaders(p, target, app, caseDir, label, { txids: ids.slice(1, 2) });
    t.diagnostic(`restored and compared (latest by both tools, TXID ${ids[1]} by both) in ${ms(t3)}`);
  } finally {
    app.close();
    rmSync(caseDir, { recursive: true, force: true });
  }
}

describe("interop: database over 1 GiB (lock page)", () => {
  before(async () => {
    if (SLOW) bk = await openBackends(dir);
  });
  after(async () => {
    await bk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const writer of ["walship", "litestream"] as const) {
    test(`${writer} -> both tools, file: 1.1 GiB across the lock page`, { timeout: 600_000 }, async (t) => {
      if (!SLOW) return t.skip("slow tier: set WALSHIP_SLOW=1 (CI runs it)");
      if ("skip" in peers) return t.skip(peers.skip);
      await bigCase(writer, peers, bk.file, t);
    });
  }
});
