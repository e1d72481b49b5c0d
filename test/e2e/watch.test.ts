/**
 * The main job end to end, as a user runs it: a writer process commits numbered 1 KiB rows at 100
 * transactions/s while `walship watch` replicates; after SIGTERM, `walship restore` must hold every row,
 * pass integrity_check and equal the source page for page. Runs against a directory and a real S3 server.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { type Backend, fileBackend, s3Backend } from "../helpers/backends.js";
import { repoRoot, runCli, runNode, startCli, waitFor } from "../helpers/cli.js";
import { createWalDb, fileContentHash, integrityCheck, sha256File, tempDir } from "../helpers/db.js";

const WRITER = join(repoRoot, "test", "helpers", "writer.mjs");
/** The acceptance run is 30 s; a developer may shorten it locally. CI always runs the full length. */
const SECONDS = process.env.CI === "true" ? 30 : Number(process.env.WALSHIP_E2E_SECONDS ?? 30);

function statusOf(db: string): { txid: string; replicaTXID: string } | null {
  const p = join(db, "..", `.${db.split("/").pop()}-walship`, "status.json");
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8"));
  } catch {
    return null;
  }
}

/** Checkpoints the source fully so its file is the whole database, then compares bytes. */
function sourceImageEquals(src: string, restored: string): boolean {
  const db = new Database(src);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return sha256File(src) === sha256File(restored);
}

async function replicateUnderLoad(
  b: Backend,
  dir: string,
  extraWriterArgs: string[] = [],
  watchArgs: string[] = [],
) {
  const db = join(dir, "app.db");
  createWalDb(db).close();
  const url = b.url("app");
  const watch = startCli(["watch", db, url, ...watchArgs], b.env);
  await waitFor(() => statusOf(db) !== null, 20_000, "walship watch to start");
  const writer = runNode(WRITER, [db, "100", String(SECONDS), ...extraWriterArgs]);
  let maxWal = 0;
  const sampler = setInterval(() => {
    try {
      const { size } = statSync(`${db}-wal`);
      maxWal = Math.max(maxWal, size);
    } catch {}
  }, 50);
  const w = await writer.done;
  clearInterval(sampler);
  assert.equal(w.code, 0, w.stderr);
  const { committed, lastId } = JSON.parse(w.stdout) as { committed: number; lastId: number };
  watch.child.kill("SIGTERM");
  const res = await watch.done;
  assert.equal(res.code, 0, `watch exit: ${res.stderr}`);
  return { db, url, committed, lastId, maxWal, watchLog: res.stderr };
}

for (const make of [
  async (dir: string): Promise<Backend | { skip: string }> => fileBackend(dir),
  async (): Promise<Backend | { skip: string }> => s3Backend(),
]) {
  const dir = tempDir();
  const backendP = make(dir);
  describe(`watch + restore`, async () => {
    const b = await backendP;
    const name = "skip" in b ? "s3" : b.name;
    after(async () => {
      if (!("skip" in b)) await b.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test(`${name}: 100 tx/s under watch, SIGTERM, restore holds every row page for page`, async (t) => {
      if ("skip" in b) return t.skip(b.skip);
      const sub = join(dir, "load");
      mkdirSync(sub, { recursive: true });
      const r = await replicateUnderLoad(b, sub);
      const out = join(sub, "restored.db");
      const rr = await runCli(["restore", r.url, "-o", out, "--integrity-check", "full"], b.env);
      assert.equal(rr.code, 0, rr.stderr);
      assert.equal(integrityCheck(out), "ok");
      const got = new Database(out);
      const { n, m } = got.prepare("SELECT count(*) n, max(id) m FROM rows").get() as {
        n: number;
        m: number;
      };
      got.close();
      assert.equal(n, r.committed, "every committed row restored");
      assert.equal(m, r.lastId);
      assert.equal(fileContentHash(out), fileContentHash(r.db));
      assert.ok(sourceImageEquals(r.db, out), "restored file equals the source database page for page");
    });

    test(`${name}: the app checkpoints on its own (autocheckpoint and TRUNCATE) and nothing is lost`, async (t) => {
      if ("skip" in b) return t.skip(b.skip);
      const sub = join(dir, "ckpt");
      mkdirSync(sub, { recursive: true });
      const truncatePages = 3000;
      const r = await replicateUnderLoad(
        b,
        sub,
        ["--checkpoint-truncate-every", "40"],
        ["--checkpoint-pages", "500", "--truncate-pages", String(truncatePages)],
      );
      const out = join(sub, "restored.db");
      const rr = await runCli(["restore", r.url, "-o", out], b.env);
      assert.equal(rr.code, 0, rr.stderr);
      assert.equal(integrityCheck(out), "ok");
      assert.equal(fileContentHash(out), fileContentHash(r.db));
      const frame = 24 + 4096;
      assert.ok(r.maxWal <= 32 + truncatePages * frame, `WAL peaked at ${r.maxWal} bytes`);
    });
  });
}
