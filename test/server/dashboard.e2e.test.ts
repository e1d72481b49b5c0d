/**
 * The dashboard in a real browser: `walship watch` replicates three databases, headless Chromium (Debian's
 * chromium, driven by playwright-core) opens the page, and every number it shows must equal /metrics.
 * Then the page must update by itself as new transactions arrive. A screenshot goes to
 * test-output/dashboard.png (and to docs/dashboard.png with WALSHIP_UPDATE_DOCS=1).
 * Outside CI a missing chromium skips with a reason; in CI (CI=true) it fails instead.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { repoRoot, waitFor } from "../helpers/cli.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { parseProm, sampleValue } from "./helpers.js";
import { startWatch } from "./watch-process.js";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, n: number): void {
  const db = createWalDb(path);
  const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(2000), ?)");
  for (let i = 0; i < n; i++) ins.run(i);
  db.close();
}

interface Card {
  db: string;
  txid?: string;
  txidText: string;
  replicaTXID?: string;
  wal?: string;
  walFile?: string;
  dbSize?: string;
  pending?: string;
  lag?: string;
  health: string;
  levels: string[];
}

const READ_CARDS = `[...document.querySelectorAll("[data-db]")].map((card) => {
  const f = (name) => card.querySelector('[data-field="' + name + '"]');
  return {
    db: card.dataset.db,
    txid: f("txid").dataset.value,
    txidText: f("txid").textContent,
    replicaTXID: f("replica-txid").dataset.value,
    wal: f("wal-size").dataset.value,
    walFile: f("wal-file-size").dataset.value,
    dbSize: f("db-size").dataset.value,
    pending: f("pending").dataset.value,
    lag: f("lag").dataset.value,
    health: f("health").textContent,
    levels: [...card.querySelectorAll("svg rect")].map((r) => r.dataset.level),
  };
})`;

async function metricsOf(url: string) {
  return parseProm(await (await fetch(`${url}/metrics`)).text()).samples;
}

test("dashboard: shows every database with the numbers /metrics has, and updates live", async (t) => {
  if (!existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} not installed (run scripts/setup-browser.sh)`;
    if (process.env.CI === "true") assert.fail(`${why}: CI must run the browser test`);
    return t.skip(why);
  }
  const { chromium } = await import("playwright-core");
  const dbs = ["orders.db", "users.db", "events.db"].map((n) => join(dir, n));
  for (const [i, db] of dbs.entries()) write(db, 20 * (i + 1));
  const args = dbs.flatMap((db) => [db, join(dir, "replicas", db.split("/").pop()!)]);
  const w = startWatch([...args, "--metrics-addr", "127.0.0.1:0", "--sync-interval", "200ms"]);
  const profile = mkdtempSync(join(tmpdir(), "walship-chromium-"));
  let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | null = null;
  try {
    const url = await w.url;
    // A few separate commits per database, so each timeline has several restore points.
    for (let batch = 0; batch < 6; batch++) {
      for (const [i, db] of dbs.entries()) write(db, 3 + i);
      await new Promise((r) => setTimeout(r, 300));
    }
    await waitFor(
      async () => {
        const s = await metricsOf(url);
        return dbs.every(
          (db) =>
            sampleValue(s, "walship_pending_uploads", { db }) === 0 &&
            sampleValue(s, "walship_replica_txid", { db }) === sampleValue(s, "litestream_txid", { db }),
        );
      },
      20_000,
      "replicas to catch up",
    );
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 1000 },
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    let navigations = 0;
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) navigations++;
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(url);
    // Page-side code is passed as strings (tsx would wrap functions in a helper the page lacks, and this
    // project's TypeScript has no DOM types), and polled from here: waitForFunction would eval the string
    // in the page, which the dashboard's CSP rightly forbids.
    const waitInPage = (expr: string, what: string, timeoutMs = 15_000) =>
      waitFor(async () => (await page.evaluate(expr)) === true, timeoutMs, what);
    await waitInPage(`document.querySelectorAll("[data-db]").length === ${dbs.length}`, "the cards");
    await waitInPage(
      `document.querySelectorAll("[data-timeline-loaded='1']").length === ${dbs.length}`,
      "timelines",
    );
    const read = () => page.evaluate(READ_CARDS) as Promise<Card[]>;
    const refreshes = () => page.evaluate("Number(document.body.dataset.refreshes ?? 0)") as Promise<number>;

    // Idle now: the page (after its next refresh) and /metrics must agree exactly.
    const before = await metricsOf(url);
    const r0 = await refreshes();
    await waitInPage(`Number(document.body.dataset.refreshes ?? 0) > ${r0}`, "a refresh");
    const shown = await read();
    const afterM = await metricsOf(url);
    assert.equal(shown.length, dbs.length);
    for (const card of shown) {
      const m = (name: string, labels: Record<string, string> = {}) =>
        String(sampleValue(afterM, name, { db: card.db, ...labels }));
      assert.equal(
        m("litestream_txid"),
        String(sampleValue(before, "litestream_txid", { db: card.db })),
        "idle",
      );
      assert.equal(card.txid, m("litestream_txid"), `${card.db} TXID`);
      assert.equal(card.txidText, Number(card.txid).toString(16).padStart(16, "0"));
      assert.equal(card.replicaTXID, m("walship_replica_txid"), `${card.db} replica TXID`);
      assert.equal(card.wal, m("litestream_wal_size"), `${card.db} WAL size`);
      assert.equal(card.walFile, m("walship_wal_file_bytes"), `${card.db} -wal file`);
      assert.equal(card.dbSize, m("litestream_db_size"), `${card.db} DB size`);
      assert.equal(card.pending, m("walship_pending_uploads"), `${card.db} pending`);
      assert.equal(card.lag, m("walship_replica_lag_seconds"), `${card.db} lag`);
      assert.equal(card.health, "healthy");
      assert.ok(card.levels.includes("0") && card.levels.includes("9"), `${card.db} timeline has L0 and L9`);
    }

    // Live: new transactions show up without a reload.
    const orders = shown.find((c) => c.db.endsWith("orders.db"))!;
    write(dbs[0]!, 5);
    const txidShown = `Number(document.querySelector(${JSON.stringify(`[data-db="${orders.db}"] [data-field="txid"]`)})?.dataset.value ?? 0)`;
    await waitInPage(`${txidShown} > ${Number(orders.txid)}`, "the new TXID on the page");
    assert.equal(navigations, 1, "the page updated in place");
    assert.deepEqual(errors, [], "no errors in the page");

    const outDir = join(repoRoot, "test-output");
    mkdirSync(outDir, { recursive: true });
    const shot = join(outDir, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.WALSHIP_UPDATE_DOCS === "1") copyFileSync(shot, join(repoRoot, "docs", "dashboard.png"));
    t.diagnostic(`screenshot: ${shot}`);
  } finally {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
    w.child.kill("SIGTERM");
    const res = await w.done;
    assert.equal(res.code, 0, res.stderr.slice(-2000));
  }
});
