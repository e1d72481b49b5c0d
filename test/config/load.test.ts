/** Valid configs: precedence, environment expansion, globs and replica sub-paths, the shipped example. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseDurationText } from "../../src/config/duration.js";
import { expandGlob, globBase, globRelative } from "../../src/config/glob.js";
import { loadConfigFile, parseConfig } from "../../src/config/load.js";
import { childReplicaUrl } from "../../src/config/replica.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { repoRoot } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";

function resolve(toml: string, env: NodeJS.ProcessEnv = {}, cli = {}) {
  return resolveConfig(parseConfig(toml, "/etc/walship/walship.toml", { env }), cli, [], env);
}

test("flag over [[databases]] over global table over default, with origins", () => {
  const cfg = resolve(
    `[sync]\ninterval = "2s"\n[checkpoint]\npages = 700\n[[databases]]\npath = "a.db"\nreplica = "bk/a"\ncheckpoint-pages = 900\n[[databases]]\npath = "/b.db"\nreplica = "s3://bkt/b?endpoint=http://127.0.0.1:9"\n`,
    {},
    { busyTimeoutMs: 1234 },
  );
  const [a, b] = cfg.databases;
  assert.equal(a!.path, "/etc/walship/a.db", "relative paths resolve against the config file's directory");
  assert.equal(a!.replica, "/etc/walship/bk/a");
  assert.equal(a!.settings.syncIntervalMs, 2000);
  assert.equal(a!.settings.minCheckpointPages, 900);
  assert.equal(b!.settings.minCheckpointPages, 700);
  assert.equal(a!.settings.busyTimeoutMs, 1234);
  assert.equal(a!.settings.truncatePages, 121_359);
  const origin = (k: string) => a!.rows.find((r) => r.key === k)?.origin;
  assert.equal(origin("checkpoint-pages"), "[[databases]] #1");
  assert.equal(origin("sync-interval"), "[sync] interval");
  assert.equal(origin("busy-timeout"), "--busy-timeout");
  assert.equal(origin("truncate-pages"), "default");
  assert.deepEqual(cfg.metrics, { enabled: true, host: "127.0.0.1", port: 16767, explicit: false });
});

test("environment expansion with fallbacks, $$ escapes, numbers from strings; --no-expand-env keeps text", () => {
  const toml = `[s3]\nregion = "\${REGION:-eu-west-1}"\nendpoint = "\${EP}"\n[[databases]]\npath = "/\${NAME}.db"\nreplica = "/bk/$$x"\ncheckpoint-pages = "\${PAGES}"\n`;
  const cfg = resolve(toml, { EP: "http://127.0.0.1:9000", NAME: "app", PAGES: "321" });
  assert.equal(cfg.s3.region, "eu-west-1");
  assert.equal(cfg.s3.endpoint, "http://127.0.0.1:9000");
  assert.equal(cfg.databases[0]!.path, "/app.db");
  assert.equal(cfg.databases[0]!.replica, "/bk/$x");
  assert.equal(cfg.databases[0]!.settings.minCheckpointPages, 321);
  const raw = parseConfig(`[[databases]]\npath = "/\${NAME}.db"\nreplica = "/bk"\n`, "w.toml", {
    env: {},
    expandEnv: false,
  });
  assert.equal(raw.databases[0]!.values.path, `/\${NAME}.db`);
});

test("per-database [retention] and [compaction] override the global tables", () => {
  const cfg = resolve(
    `[retention]\nenabled = false\ndaily = 3\n[compaction]\nlevels = ["10s", "1m"]\n[[databases]]\npath = "/a.db"\nreplica = "/r"\n[databases.compaction]\nlevels = ["1m"]\n[databases.retention]\nl0 = "0"\ndaily = 2\n[[databases]]\npath = "/b.db"\nreplica = "/r2"\n`,
  );
  assert.deepEqual(cfg.databases[0]!.settings.maintenance.levels, [{ level: 1, intervalMs: 60_000 }]);
  assert.deepEqual(cfg.databases[1]!.settings.maintenance.levels, [
    { level: 1, intervalMs: 10_000 },
    { level: 2, intervalMs: 60_000 },
  ]);
  assert.equal(cfg.databases[1]!.settings.maintenance.retention, false);
  assert.equal(cfg.databases[1]!.settings.maintenance.gfs.daily, 3);
  assert.equal(cfg.databases[0]!.settings.maintenance.gfs.daily, 2);
  assert.equal(cfg.databases[0]!.settings.maintenance.gfs.weekly, 12, "the engine's default");
  assert.equal(
    cfg.databases[0]!.settings.maintenance.l0RetentionMs,
    Number.POSITIVE_INFINITY,
    '"0" keeps L0',
  );
});

test("durations: Go syntax and days", () => {
  assert.equal(parseDurationText("1m30s"), 90_000);
  assert.equal(parseDurationText("1.5s"), 1500);
  assert.equal(parseDurationText("2d"), 172_800_000);
  assert.equal(parseDurationText("500ms"), 500);
  assert.equal(parseDurationText("5"), null);
  assert.equal(parseDurationText("1s "), 1000);
});

test("globs: matches, side files and dot files excluded, sub-paths for replicas", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, "t1"));
  mkdirSync(join(dir, "t2"));
  mkdirSync(join(dir, ".hidden"));
  for (const f of [
    "a.db",
    "a.db-wal",
    "a.db-shm",
    "b.db",
    ".c.db",
    "notes.txt",
    "t1/x.db",
    "t2/x.db",
    ".hidden/h.db",
  ]) {
    writeFileSync(join(dir, f), "");
  }
  assert.deepEqual(await expandGlob(join(dir, "*.db")), [join(dir, "a.db"), join(dir, "b.db")]);
  assert.deepEqual(await expandGlob(join(dir, "*")), [
    join(dir, "a.db"),
    join(dir, "b.db"),
    join(dir, "notes.txt"),
  ]);
  assert.deepEqual(await expandGlob(join(dir, "*/x.db")), [join(dir, "t1/x.db"), join(dir, "t2/x.db")]);
  assert.deepEqual(await expandGlob(join(dir, "**/*.db")), [
    join(dir, "a.db"),
    join(dir, "b.db"),
    join(dir, "t1/x.db"),
    join(dir, "t2/x.db"),
  ]);
  assert.deepEqual(await expandGlob(join(dir, "[ab].db")), [join(dir, "a.db"), join(dir, "b.db")]);
  assert.equal(globBase("/data/*/x.db"), "/data");
  assert.equal(globRelative("/data/*/x.db", "/data/t1/x.db"), "t1/x.db");
  assert.equal(childReplicaUrl("/bk/", "t1/x.db"), "/bk/t1/x.db");
  assert.equal(
    childReplicaUrl("s3://bkt/dbs?endpoint=http://127.0.0.1:9000", "a b.db"),
    "s3://bkt/dbs/a%20b.db?endpoint=http://127.0.0.1:9000",
  );
  assert.equal(childReplicaUrl("file:///bk", "a.db"), "file:///bk/a.db");
});

test("the example config in examples/ is valid and says what it says", () => {
  const env = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE" };
  const file = loadConfigFile(join(repoRoot, "examples", "walship.toml"), { env });
  const cfg = resolveConfig(file, {}, [], env);
  assert.equal(cfg.databases.length, 2);
  assert.equal(cfg.databases[1]!.glob, true);
  assert.equal(cfg.databases[1]!.settings.syncIntervalMs, 5000);
  assert.equal(cfg.databases[1]!.settings.maintenance.l0RetentionMs, 600_000);
  assert.equal(cfg.databases[0]!.settings.restoreIfDbNotExists, true);
  assert.equal(cfg.s3["access-key-id"], "AKIAEXAMPLEEXAMPLE");
});
