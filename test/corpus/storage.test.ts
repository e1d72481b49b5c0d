/**
 * Corpus: replica URLs and storage that cannot work: bad URLs, an unreachable endpoint, missing, wrong or
 * unknown credentials, a missing bucket (against a real S3 server, versitygw). Restore and watch each
 * fail at once with one line naming the URL, endpoint or bucket and the fix, print no secret, and leave
 * the database alone.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { startS3Server } from "../helpers/s3-server.js";
import { type CliCase, runCase } from "./cli-case.js";
import { runCli } from "./fixture.js";

const dir = tempDir("walship-corpus-storage-");
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

const WRONG_SECRET = "wrong-secret-0123456789";
const NO_CREDS = {
  AWS_ACCESS_KEY_ID: "",
  AWS_SECRET_ACCESS_KEY: "",
  LITESTREAM_ACCESS_KEY_ID: "",
  LITESTREAM_SECRET_ACCESS_KEY: "",
  AWS_PROFILE: "",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
  AWS_CONFIG_FILE: "/nonexistent/config",
};

function restoreCase(
  name: string,
  url: string,
  code: number,
  says: RegExp[],
  env = {},
  fixInMessage = false,
): CliCase {
  return {
    name,
    fixInMessage,
    setup: (d) => ({
      args: ["restore", url, "-o", join(d, "out.db")],
      unchanged: [],
      absent: [join(d, "out.db")],
      env,
    }),
    code,
    says,
  };
}

function db(d: string): string {
  mkdirSync(d, { recursive: true });
  const p = join(d, "app.db");
  const c = createWalDb(p);
  c.prepare("INSERT INTO rows (body, at) VALUES (randomblob(100), 1)").run();
  c.close();
  return p;
}

function watchCase(name: string, url: string, code: number, says: RegExp[], env = {}): CliCase {
  return {
    name,
    setup: (d) => {
      const p = db(d);
      return { args: ["watch", p, url, "--no-metrics"], unchanged: [p, `${p}-wal`], env };
    },
    code,
    says,
  };
}

const offline: CliCase[] = [
  restoreCase("unsupported URL scheme", "gs://bucket/db", EXIT_CODES.usage, [
    /unsupported replica URL scheme "gs:"/,
    /s3:\/\/bucket\/path/,
  ]),
  restoreCase("S3 URL without a path", "s3://bucket", EXIT_CODES.usage, [
    /S3 URL s3:\/\/bucket has no path/,
    /give the replica a path/,
  ]),
  restoreCase("file URL naming a host", "file://server/backups", EXIT_CODES.usage, [
    /names a host \(server\)/,
    /three slashes/,
  ]),
  restoreCase(
    "S3 endpoint that is not http(s)",
    "s3://b/db?endpoint=ftp://127.0.0.1:21",
    EXIT_CODES.usage,
    [/endpoint must be http:\/\/ or https:\/\/, got "ftp:/],
    {},
    true,
  ),
  restoreCase(
    "S3 part size that is not a size",
    "s3://b/db?endpoint=http://127.0.0.1:1&part-size=lots",
    EXIT_CODES.usage,
    [/part-size must be a size like 5MiB, got "lots"/],
    {},
    true,
  ),
  restoreCase("not a URL nor a path", "mailto:someone", EXIT_CODES.usage, [
    /is not a path or a scheme/,
    /file:\/\/\/abs\/path or s3:\/\/bucket\/path/,
  ]),
  restoreCase(
    "unreachable endpoint",
    "s3://b/db?endpoint=http://127.0.0.1:1",
    EXIT_CODES.storageConnection,
    [/cannot reach S3 endpoint http:\/\/127.0.0.1:1/, /nothing listens on that endpoint/],
    { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" },
  ),
  restoreCase(
    "no credentials at all",
    "s3://b/db?endpoint=http://127.0.0.1:1",
    EXIT_CODES.storageAuth,
    [/no S3 credentials found/, /AWS_ACCESS_KEY_ID/],
    NO_CREDS,
  ),
  watchCase(
    "watch: unreachable endpoint",
    "s3://b/db?endpoint=http://127.0.0.1:1",
    EXIT_CODES.storageConnection,
    [/cannot reach S3 endpoint/, /nothing listens/],
    {
      AWS_ACCESS_KEY_ID: "k",
      AWS_SECRET_ACCESS_KEY: "s",
    },
  ),
];

const server = await startS3Server();

describe("corpus: replica URLs and storage", () => {
  offline.forEach((c, i) => {
    it(c.name, () => runCase(c, join(dir, `offline-${i}`)));
  });

  if ("skip" in server) {
    it("S3 cases need versitygw", (t) => t.skip(server.skip));
    return;
  }
  const s3 = server;
  after(() => s3.stop());
  const good = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  const wrong = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: WRONG_SECRET };
  const unknown = { AWS_ACCESS_KEY_ID: "NOSUCHKEY", AWS_SECRET_ACCESS_KEY: WRONG_SECRET };
  const missingBucket = s3.url("db").replace(s3.bucket, "no-such-bucket-walship");
  const online: CliCase[] = [
    restoreCase(
      "wrong secret key",
      s3.url("db"),
      EXIT_CODES.storageAuth,
      [/HTTP 403 SignatureDoesNotMatch/, /rejected the credentials/],
      wrong,
    ),
    restoreCase(
      "unknown access key",
      s3.url("db"),
      EXIT_CODES.storageAuth,
      [/No user exists with the provided access key/, /rejected the credentials/],
      unknown,
    ),
    restoreCase(
      "missing bucket",
      missingBucket,
      EXIT_CODES.notFound,
      [/NoSuchBucket/, /create the bucket "no-such-bucket-walship" first/],
      good,
    ),
    watchCase(
      "watch: wrong secret key",
      s3.url("db"),
      EXIT_CODES.storageAuth,
      [/SignatureDoesNotMatch/, /rejected the credentials/],
      wrong,
    ),
    watchCase(
      "watch: missing bucket",
      missingBucket,
      EXIT_CODES.notFound,
      [/NoSuchBucket/, /create the bucket/],
      good,
    ),
  ];
  online.forEach((c, i) => {
    it(c.name, () => runCase(c, join(dir, `online-${i}`)));
  });

  it("no secret is printed on an auth failure", async () => {
    const r = await runCli(["restore", s3.url("db"), "-o", join(dir, "secret-out.db")], { env: wrong });
    assert.equal(r.code, EXIT_CODES.storageAuth);
    assert.ok(!r.stderr.includes(WRONG_SECRET) && !r.stdout.includes(WRONG_SECRET));
  });
});
