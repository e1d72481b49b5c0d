/**
 * Following a replica written by Litestream v0.5.17 itself (`.peers/bin/litestream`, installed by
 * `npm run setup:peers`), on a directory and on the S3 test server. Litestream runs with fast intervals:
 * 100 ms syncs, level-1 compaction every 3 s and level-0 retention of 2 s, so while the follower is stopped
 * the level-0 files it needs are compacted away for real, by Litestream. Readers query the follower's
 * database throughout. Missing binary: skipped with the reason locally, a failure in CI.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  assertReadersClean,
  initPrimary,
  progressTXID,
  replicaMaxTXID,
  startReaders,
  startWriter,
  stopWriter,
  summarizeReaders,
} from "../follow/helpers.js";
import { type Backend, fileBackend, s3Backend } from "../helpers/backends.js";
import { type CliResult, repoRoot, startCli, waitFor } from "../helpers/cli.js";
import { fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";

const LITESTREAM = process.env.WALSHIP_LITESTREAM ?? join(repoRoot, ".peers", "bin", "litestream");
const missing = existsSync(LITESTREAM)
  ? undefined
  : `Litestream v0.5 not installed at ${LITESTREAM}: run npm run setup:peers`;
if (missing && process.env.CI === "true") throw new Error(`${missing} (CI must not skip interop tests)`);

/** Long enough for Litestream to compact and delete the level-0 files the stopped follower needs. */
const DOWNTIME_MS = 7_000;

function replicaYaml(b: Backend, dir: string, path: string): string {
  if (b.name === "file") return `      type: file\n      path: ${join(dir, path)}\n`;
  const s = b.server!;
  return [
    "      type: s3",
    `      bucket: ${s.bucket}`,
    `      path: ${path}`,
    `      endpoint: ${s.endpoint}`,
    `      region: ${s.region}`,
    "      force-path-style: true",
    `      access-key-id: ${s.accessKeyId}`,
    `      secret-access-key: ${s.secretAccessKey}`,
    "",
  ].join("\n");
}

function startLitestream(config: string): { child: ChildProcess; done: Promise<CliResult> } {
  // With AWS_CA_BUNDLE set, Litestream's AWS SDK refuses to start even for a plain-http endpoint.
  const { AWS_CA_BUNDLE: _ca, LITESTREAM_CONFIG: _cfg, ...env } = process.env;
  const child = spawn(LITESTREAM, ["replicate", "-config", config], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

for (const make of [
  async (dir: string): Promise<Backend | { skip: string }> => fileBackend(dir),
  async (): Promise<Backend | { skip: string }> => s3Backend(),
]) {
  const dir = tempDir("walship-follow-ls-");
  const backendP = missing ? Promise.resolve({ skip: missing }) : make(dir);
  describe("follow a Litestream v0.5 replica", async () => {
    const b = await backendP;
    const name = "skip" in b ? (b.skip === missing ? "litestream" : "s3") : b.name;
    after(async () => {
      if (!("skip" in b)) await b.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test(`${name}: walship replicate follows Litestream through its own compaction`, async (t) => {
      if ("skip" in b) return t.skip(b.skip);
      const sub = join(dir, "ls");
      mkdirSync(sub, { recursive: true });
      const db = join(sub, "primary.db");
      const local = join(sub, "follower.db");
      const config = join(sub, "litestream.yml");
      await initPrimary(db);
      writeFileSync(
        config,
        [
          "levels:",
          "  - interval: 3s",
          "l0-retention: 2s",
          "l0-retention-check-interval: 1s",
          "dbs:",
          `  - path: ${db}`,
          "    monitor-interval: 100ms",
          "    replica:",
          `${replicaYaml(b, dir, "ls-replica")}      sync-interval: 100ms`,
          "",
        ].join("\n"),
      );
      const url = b.url("ls-replica");
      const ls = startLitestream(config);
      const writer = startWriter(db, 50);
      let readers: ReturnType<typeof startReaders> | null = null;
      const logs: string[] = [];
      const run = () => startCli(["replicate", url, "--local", local, "--log-level", "debug"], b.env);
      const stop = async (f: ReturnType<typeof run>) => {
        f.child.kill("SIGTERM");
        const r = await f.done;
        assert.equal(r.code, 0, r.stderr);
        logs.push(r.stderr);
      };
      try {
        await waitFor(
          async () => (await replicaMaxTXID(b, "ls-replica")) > 2n,
          30_000,
          "Litestream's first files",
        );
        let f = run();
        await waitFor(() => (progressTXID(local) ?? 0n) > 5n, 30_000, "the follower to start");
        readers = startReaders(local, 2);
        await new Promise((r) => setTimeout(r, 2_000));
        await stop(f);
        const stoppedAt = progressTXID(local)!;
        await new Promise((r) => setTimeout(r, DOWNTIME_MS));
        const c = b.client("ls-replica");
        const l0 = await c.list(0);
        await c.close();
        assert.ok(
          !l0.some((x) => x.minTXID === stoppedAt + 1n),
          "Litestream compacted away the level-0 file the follower needs next",
        );
        f = run();
        await waitFor(() => (progressTXID(local) ?? 0n) > stoppedAt + 20n, 30_000, "the follower to resume");
        await stopWriter(writer);
        ls.child.kill("SIGTERM");
        await ls.done;
        const final = await replicaMaxTXID(b, "ls-replica");
        await waitFor(() => (progressTXID(local) ?? 0n) >= final, 30_000, "the follower to converge");
        await stop(f);
      } finally {
        if (writer.child.exitCode === null) await stopWriter(writer);
        if (ls.child.exitCode === null) ls.child.kill("SIGTERM");
        await ls.done;
      }
      const rs = await readers!.stop();
      assertReadersClean(rs);
      assert.equal(integrityCheck(local), "ok");
      assert.equal(fileContentHash(local), fileContentHash(db), "follower equals the primary");
      const how = /bootstrapped .*reason=gap/.test(logs[1] ?? "") ? "re-bootstrapped" : "bridged via level 1";
      console.log(`# ${name}: after Litestream's compaction the follower ${how}; ${summarizeReaders(rs)}`);
    });
  });
}
