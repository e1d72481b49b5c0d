/**
 * The operator surface of `walship watch` and `walship explain` as processes: log formats and levels,
 * the listener's flags, exit 2 on bad configuration, and secrets from the config never appearing in
 * explain output, logs, /metrics, /health, /api/* or the dashboard.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { runCli, waitFor } from "../helpers/cli.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { startWatch } from "./watch-process.js";

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRETS = {
  key: "AKIASECRETKEYID7Q2Z",
  secret: "s3-secret-0f9e8d7c6b5a4f3e2d1c",
  hook: "hook-hmac-secret-77aa88bb",
  token: "T0KEN-in-webhook-url-5x5",
};

function db(name: string): string {
  const p = join(dir, name);
  const d = createWalDb(p);
  d.prepare("INSERT INTO rows (body, at) VALUES (randomblob(100), 1)").run();
  d.close();
  return p;
}

test("--log-format json: every line is a JSON object; --log-level warn hides info", async () => {
  const a = db("log.db");
  const w = startWatch([
    a,
    join(dir, "log-replica"),
    "--metrics-addr",
    "127.0.0.1:0",
    "--log-format",
    "json",
  ]);
  await w.url;
  w.child.kill("SIGTERM");
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trim().split("\n");
  for (const l of lines) {
    const o = JSON.parse(l) as { time: string; level: string; msg: string };
    assert.ok(o.time && o.level && o.msg, l);
  }
  assert.ok(lines.some((l) => JSON.parse(l).msg === "drained"));

  const q = startWatch([a, join(dir, "log-replica"), "--metrics-addr", "127.0.0.1:0", "--log-level", "warn"]);
  await new Promise((res) => setTimeout(res, 1500));
  q.child.kill("SIGTERM");
  const r2 = await q.done;
  assert.equal(r2.code, 0, r2.stderr);
  assert.doesNotMatch(r2.stderr, / INFO /);

  for (const bad of [
    ["--log-level", "verbose"],
    ["--log-format", "xml"],
    ["--metrics-addr", "nope"],
  ]) {
    const r3 = await runCli(["watch", a, join(dir, "log-replica"), ...bad]);
    assert.equal(r3.code, EXIT_CODES.usage, `${bad.join(" ")}: ${r3.stderr}`);
  }
});

test("listener: --no-metrics listens nowhere; an explicit address in use exits 2; the default one warns", async () => {
  const a = db("listen.db");
  const off = startWatch([a, join(dir, "listen-replica"), "--no-metrics"]);
  await waitFor(() => off.log().includes("started"), 20_000, "start");
  off.child.kill("SIGTERM");
  const r = await off.done;
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /listening/);

  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(0, "127.0.0.1", () => res()));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r2 = await runCli(["watch", a, join(dir, "listen-replica"), "--metrics-addr", `127.0.0.1:${port}`]);
    assert.equal(r2.code, EXIT_CODES.usage, r2.stderr);
    assert.match(r2.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  } finally {
    blocker.close();
  }

  // The default address: if it is free here, occupy it; either way walship must warn and carry on.
  const def = createServer();
  await new Promise<void>((res) => {
    def.once("error", () => res());
    def.listen(16767, "127.0.0.1", () => res());
  });
  try {
    const w = startWatch([a, join(dir, "listen-replica")]);
    await waitFor(() => w.log().includes("started"), 20_000, "start");
    w.child.kill("SIGTERM");
    const r3 = await w.done;
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stderr, /continuing without \/metrics/);
  } finally {
    def.close();
  }
});

test("explain exits 2 on an invalid config, naming key, file and line", async () => {
  const cfg = join(dir, "bad.toml");
  writeFileSync(cfg, `[[databases]]\npath = "a.db"\nreplica = "bk"\n\n[metrics]\nport = 9090\n`);
  const r = await runCli(["explain", "--config", cfg]);
  assert.equal(r.code, EXIT_CODES.usage);
  assert.match(
    r.stderr,
    new RegExp(`${cfg.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:6: unknown key "port" in \\[metrics\\]`),
  );
  const r2 = await runCli(["watch", "--config", cfg]);
  assert.equal(r2.code, EXIT_CODES.usage);
  const r3 = await runCli(["explain", "--config", join(dir, "missing.toml")]);
  assert.equal(r3.code, EXIT_CODES.usage);
  assert.match(r3.stderr, /cannot read config file/);
});

test("secrets never appear in explain, logs, /metrics, /health, /api/* or the dashboard", async () => {
  const a = db("sec-a.db");
  db("sec-b.db");
  const cfg = join(dir, "secrets.toml");
  writeFileSync(
    cfg,
    `[s3]
access-key-id = "${SECRETS.key}"
secret-access-key = "\${WALSHIP_TEST_SECRET}"
region = "us-east-1"

[metrics]
addr = "127.0.0.1:0"

[webhooks]
urls = ["http://127.0.0.1:9/hook/${SECRETS.token}"]
secret = "${SECRETS.hook}"

[[databases]]
path = "sec-*.db"
replica = "sec-replicas"
`,
  );
  const env = { WALSHIP_TEST_SECRET: SECRETS.secret };
  const outputs: string[] = [];
  for (const args of [
    ["explain", "--config", cfg],
    ["explain", "--config", cfg, "--json"],
  ]) {
    const r = await runCli(args, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /redacted/);
    outputs.push(r.stdout, r.stderr);
  }
  // A wrong type for a secret: the error names the key and line but not the value.
  const bad = join(dir, "secret-bad.toml");
  writeFileSync(
    bad,
    `[s3]\nsecret-access-key = ["${SECRETS.secret}"]\n[[databases]]\npath = "a.db"\nreplica = "r"\n`,
  );
  const rb = await runCli(["explain", "--config", bad]);
  assert.equal(rb.code, EXIT_CODES.usage);
  assert.match(rb.stderr, /:2: key "secret-access-key" in \[s3\]: invalid value \(not shown/);
  outputs.push(rb.stderr);

  const w = startWatch(["--config", cfg, "--log-level", "debug", "--log-format", "json"], env);
  const url = await w.url;
  await waitFor(() => (w.log().match(/"msg":"replicating"/g) ?? []).length === 2, 20_000, "both databases");
  for (const path of ["/metrics", "/health", "/api/status", `/api/ltx?db=${encodeURIComponent(a)}`, "/"]) {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 200, path);
    outputs.push(await res.text());
  }
  w.child.kill("SIGTERM");
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  outputs.push(r.stdout, r.stderr);
  const all = outputs.join("\n");
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.ok(!all.includes(value), `${name} leaked`);
  }
});
