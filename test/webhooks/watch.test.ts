/**
 * End to end against the real S3 server: credentials and endpoint from walship.toml's [s3] table (none in
 * the environment) replicate; a wrong secret makes `walship watch` exit 4 and POST a signed auth_failure
 * webhook, and neither secret appears in anything walship prints.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { restore } from "../../src/index.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { verify } from "../../src/webhooks/signature.js";
import { s3Backend } from "../helpers/backends.js";
import { runCli, startCli, waitFor } from "../helpers/cli.js";
import { createWalDb, fileContentHash, tempDir } from "../helpers/db.js";

const dir = tempDir();
const HOOK_SECRET = "hook-secret-do-not-print-9f2c";
let hookServer: Server | null = null;
after(() => {
  hookServer?.closeAllConnections();
  hookServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const NO_AWS_ENV = { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_SESSION_TOKEN: "" };

test("s3: [s3] credentials from walship.toml; a wrong secret exits 4 with a signed auth_failure webhook", async (t) => {
  const b = await s3Backend();
  if ("skip" in b) return t.skip(b.skip);
  try {
    const o = b.server!.clientOptions("x");
    const got: Array<{ body: string; sig: string; ts: number }> = [];
    hookServer = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        got.push({
          body,
          sig: String(req.headers["x-walship-signature"]),
          ts: Number(req.headers["x-walship-timestamp"]),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hookServer!.listen(0, "127.0.0.1", () => r()));
    const hook = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/walship`;

    const db = join(dir, "cfg.db");
    const w = createWalDb(db);
    w.prepare("INSERT INTO rows (body, at) VALUES (randomblob(500), 1)").run();
    w.close();
    const config = (secret: string) => `
[s3]
access-key-id = "${o.accessKeyId}"
secret-access-key = "${secret}"
endpoint = "${o.endpoint}"
region = "${o.region}"

[metrics]
enabled = false

[webhooks]
urls = ["${hook}"]
secret = "${HOOK_SECRET}"

[[databases]]
path = "cfg.db"
replica = "s3://${o.bucket}/from-config"
`;
    const good = join(dir, "good.toml");
    writeFileSync(good, config(o.secretAccessKey));
    const running = startCli(["watch", "--config", good], NO_AWS_ENV);
    await waitFor(
      () => {
        try {
          const st = JSON.parse(readFileSync(join(dir, ".cfg.db-walship", "status.json"), "utf8"));
          return st.pid === running.child.pid && st.txid === st.replicaTXID;
        } catch {
          return false;
        }
      },
      20_000,
      "replication with credentials from the config",
    );
    running.child.kill("SIGTERM");
    const r1 = await running.done;
    assert.equal(r1.code, 0, r1.stderr);
    const client = new S3ReplicaClient(b.server!.clientOptions("from-config"));
    const out = join(dir, "restored.db");
    await restore({ replica: client, output: out });
    await client.close();
    assert.equal(fileContentHash(out), fileContentHash(db));

    const bad = join(dir, "bad.toml");
    const WRONG = "wrong-secret-do-not-print-1234567890";
    writeFileSync(bad, config(WRONG));
    const r2 = await runCli(["watch", "--config", bad, "--log-level", "debug"], NO_AWS_ENV);
    assert.equal(r2.code, EXIT_CODES.storageAuth, r2.stderr);
    for (const secret of [WRONG, o.secretAccessKey, HOOK_SECRET]) {
      assert.ok(
        !r1.stderr.includes(secret) && !r2.stderr.includes(secret) && !r2.stdout.includes(secret),
        "no secret printed",
      );
    }
    const auth = got.find((g) => JSON.parse(g.body).event === "auth_failure");
    assert.ok(auth, `auth_failure webhook received (got ${got.map((g) => g.body).join(", ")})`);
    assert.ok(verify(HOOK_SECRET, auth.ts, auth.body, auth.sig), "signed with the configured secret");
    assert.ok(!auth.body.includes(WRONG) && !auth.body.includes(HOOK_SECRET));
  } finally {
    await b.stop();
  }
});
