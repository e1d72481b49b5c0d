/**
 * Storage faults seen from the CLI: the S3 server frozen for 30 s while the app writes (capture goes on
 * into staging, uploads catch up, nothing is lost), and bad credentials (a clear message and exit code 4,
 * with no secret printed).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { s3Backend } from "../helpers/backends.js";
import { repoRoot, runCli, runNode, startCli, waitFor } from "../helpers/cli.js";
import { createWalDb, fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";

const WRITER = join(repoRoot, "test", "helpers", "writer.mjs");
const OUTAGE_MS = process.env.CI === "true" ? 30_000 : Number(process.env.WALSHIP_OUTAGE_MS ?? 30_000);
const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

function status(
  db: string,
): { txid: string; replicaTXID: string; pid: number; upload: { pending: number } } | null {
  const p = join(db, "..", `.${db.split("/").pop()}-walship`, "status.json");
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8"));
  } catch {
    return null;
  }
}

test("s3: storage frozen for 30 s during writes; capture continues, uploads catch up, nothing lost", async (t) => {
  const b = await s3Backend();
  if ("skip" in b) return t.skip(b.skip);
  const sub = join(dir, "outage");
  mkdirSync(sub, { recursive: true });
  const db = join(sub, "app.db");
  createWalDb(db).close();
  const url = b.url("outage");
  const w = startCli(["watch", db, url], b.env);
  try {
    await waitFor(() => status(db)?.pid === w.child.pid, 20_000, "watch to start");
    const writer = runNode(WRITER, [db, "50", String(Math.ceil(OUTAGE_MS / 1000) + 6)]);
    await new Promise((r) => setTimeout(r, 2000));
    const before = status(db)!;
    b.server!.pause();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const during = status(db)!;
    // Capture kept going while the store was unreachable.
    assert.ok(
      BigInt(`0x${during.txid}`) > BigInt(`0x${before.txid}`) + 5n,
      "capture continued during the outage",
    );
    assert.ok(during.upload.pending > 0 || during.replicaTXID !== during.txid, "uploads were held back");
    b.server!.resume();
    const wr = await writer.done;
    assert.equal(wr.code, 0, wr.stderr);
    await waitFor(
      () => {
        const s = status(db);
        return s !== null && s.txid === s.replicaTXID;
      },
      60_000,
      "uploads to catch up",
    );
    w.child.kill("SIGTERM");
    const res = await w.done;
    assert.equal(res.code, 0, res.stderr);
    const out = join(sub, "restored.db");
    const rr = await runCli(["restore", url, "-o", out], b.env);
    assert.equal(rr.code, 0, rr.stderr);
    assert.equal(integrityCheck(out), "ok");
    assert.equal(fileContentHash(out), fileContentHash(db));
  } finally {
    b.server!.resume();
    if (w.child.exitCode === null) w.child.kill("SIGKILL");
    await b.stop();
  }
});

test("s3: bad credentials exit with code 4 and a clear message, without the secret", async (t) => {
  const b = await s3Backend();
  if ("skip" in b) return t.skip(b.skip);
  const sub = join(dir, "auth");
  mkdirSync(sub, { recursive: true });
  const db = join(sub, "app.db");
  createWalDb(db).close();
  const secret = "definitely-wrong-secret-9f8e7d";
  try {
    const r = await runCli(["watch", db, b.url("auth")], {
      AWS_ACCESS_KEY_ID: "WRONGKEY",
      AWS_SECRET_ACCESS_KEY: secret,
    });
    assert.equal(r.code, EXIT_CODES.storageAuth, r.stderr);
    assert.match(r.stderr, /credential|access key|denied|signature/i);
    assert.ok(!r.stderr.includes(secret), "secret not printed");
    const rr = await runCli(["restore", b.url("auth"), "-o", join(sub, "out.db")], {
      AWS_ACCESS_KEY_ID: "WRONGKEY",
      AWS_SECRET_ACCESS_KEY: secret,
    });
    assert.equal(rr.code, EXIT_CODES.storageAuth, rr.stderr);
    assert.ok(!rr.stderr.includes(secret));
  } finally {
    await b.stop();
  }
});
