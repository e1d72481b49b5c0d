/**
 * `walship watch --validate-interval` as a user runs it (the built CLI, a directory replica, compaction
 * on): the replica is reported whole, then a byte of an L0 file is flipped and the next validation logs
 * the problem naming the file, and counts it on /metrics.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { startCli, waitFor } from "../helpers/cli.js";
import { createWalDb, tempDir } from "../helpers/db.js";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

test("watch --validate-interval logs a whole replica, then the damaged L0 file, and counts both", async () => {
  const dir = tempDir("walship-watch-validate-");
  const dbPath = join(dir, "app.db");
  const replica = join(dir, "replica");
  const db = createWalDb(dbPath);
  db.pragma("busy_timeout = 10000");
  const port = await freePort();
  const watch = startCli([
    "watch",
    dbPath,
    replica,
    "--validate-interval",
    "1s",
    "--metrics-addr",
    `127.0.0.1:${port}`,
    "--log-format",
    "json",
  ]);
  let log = "";
  watch.child.stderr!.on("data", (d) => (log += d));
  try {
    const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(500), ?)");
    const l0 = join(replica, "ltx", "0");
    const l0Files = () => {
      try {
        return readdirSync(l0).filter((f) => f.endsWith(".ltx"));
      } catch {
        return [];
      }
    };
    // A few transactions, far enough apart to be separate L0 files.
    for (let i = 0; i < 4; i++) {
      ins.run(i);
      await new Promise((r) => setTimeout(r, 1200));
    }
    await waitFor(() => l0Files().length >= 3, 20_000, "L0 files in the replica");
    await waitFor(() => log.includes('"msg":"validation: replica is whole"'), 20_000, "a whole validation");

    // Damage an L0 file that is not the first (TXID 1 is also copied as the snapshot); L0 retention
    // keeps it for minutes, longer than this test runs.
    const victim = l0Files().sort()[1]!;
    const path = join(l0, victim);
    const b = readFileSync(path);
    b[Math.floor(b.length / 2)]! ^= 0x40;
    writeFileSync(path, b);
    await waitFor(() => log.includes("validation problem:"), 20_000, "the damage to be reported");
    const lines = log
      .split("\n")
      .filter((l) => l.includes("validation"))
      .map((l) => JSON.parse(l) as { level: string; msg: string; kind?: string; ltxLevel?: number });
    const summary = lines.find((l) => /^validation: replica has \d+ problem/.test(l.msg));
    assert.ok(summary, log);
    assert.equal(summary.level, "error");
    const problem = lines.find((l) => l.msg.startsWith("validation problem:"));
    assert.ok(problem);
    assert.equal(problem.kind, "damaged");
    assert.equal(problem.ltxLevel, 0);
    assert.ok(problem.msg.includes(victim.replace(".ltx", "")), problem.msg);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /walship_validations_total\{db="[^"]*app\.db",result="ok"\} [1-9]/);
    assert.match(metrics, /walship_validations_total\{db="[^"]*app\.db",result="problems"\} [1-9]/);
  } finally {
    watch.child.kill("SIGTERM");
    await watch.done;
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
