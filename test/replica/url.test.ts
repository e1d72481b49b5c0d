/** parseReplicaUrl: file paths and URLs, s3 URLs with parameters, and clear usage errors. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { parseReplicaUrl, parseSize } from "../../src/replica/url.js";

const env = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };

function usage(url: string, pattern: RegExp, hint?: RegExp): void {
  assert.throws(
    () => parseReplicaUrl(url, { env }),
    (e: unknown) => {
      assert.ok(isWalshipError(e, "usage"), `expected usage error for ${url}, got ${String(e)}`);
      assert.match(e.message, pattern);
      if (hint) assert.match(e.hint ?? "", hint);
      return true;
    },
  );
}

describe("parseReplicaUrl", () => {
  it("plain paths and file:// URLs give a FileReplicaClient", () => {
    const a = parseReplicaUrl("/backups/db", { env });
    assert.ok(a instanceof FileReplicaClient);
    assert.equal(a.location, "/backups/db");
    const b = parseReplicaUrl("file:///backups/my%20db", { env });
    assert.ok(b instanceof FileReplicaClient);
    assert.equal(b.location, "/backups/my db");
    const c = parseReplicaUrl("relative/dir", { env });
    assert.equal(c.location, `${process.cwd()}/relative/dir`);
    assert.equal(parseReplicaUrl("file://localhost/x/y", { env }).location, "/x/y");
  });

  it("s3:// URLs give an S3ReplicaClient with the endpoint, region and path style", () => {
    const c = parseReplicaUrl("s3://bucket/db?endpoint=http://127.0.0.1:9000&region=eu-central-1", { env });
    assert.ok(c instanceof S3ReplicaClient);
    assert.equal(c.type, "s3");
    assert.equal(c.location, "s3://bucket/db");
    assert.equal(c.bucket, "bucket");
    assert.equal(c.path, "db");
    assert.equal(c.region, "eu-central-1");
    assert.equal(c.forcePathStyle, true, "path style by default with an endpoint");
    assert.equal(c.endpointUrl, "http://127.0.0.1:9000");
    assert.equal(c.objectKey(0, 0x2an, 0x2an), "db/0000/000000000000002a-000000000000002a.ltx");
    assert.equal(c.objectKey(9, 1n, 0x40n), "db/0009/0000000000000001-0000000000000040.ltx");

    const d = parseReplicaUrl("s3://bucket/a/b/c/?endpoint=minio:9000&force-path-style=false", {
      env,
    }) as S3ReplicaClient;
    assert.equal(d.path, "a/b/c");
    assert.equal(d.forcePathStyle, false);
    assert.equal(d.endpointUrl, "http://minio:9000");
    assert.equal(d.region, "us-east-1", "us-east-1 when an endpoint is set");

    const e = parseReplicaUrl(
      "s3://bucket/db?forcePathStyle=true&skipVerify=true&sign-payload=true&require-content-md5=false&storage-class=STANDARD_IA&part-size=8MiB&concurrency=4",
      {
        env,
      },
    ) as S3ReplicaClient;
    assert.equal(e.forcePathStyle, true);
    assert.equal(e.partSize, 8 * 1024 * 1024);

    const aws = parseReplicaUrl("s3://mybucket.s3.us-west-2.amazonaws.com/db", { env }) as S3ReplicaClient;
    assert.equal(aws.bucket, "mybucket");
    assert.equal(aws.region, "us-west-2");
    assert.equal(aws.forcePathStyle, false);

    const fromEnv = parseReplicaUrl("s3://bucket/db", {
      env: { ...env, LITESTREAM_S3_ENDPOINT: "localhost:9000" },
    }) as S3ReplicaClient;
    assert.equal(fromEnv.endpointUrl, "http://localhost:9000");
    assert.equal(fromEnv.forcePathStyle, true);

    const overridden = parseReplicaUrl("s3://bucket/db?region=a", {
      env,
      s3: { region: "b", partSize: undefined },
    }) as S3ReplicaClient;
    assert.equal(overridden.region, "b");
    assert.equal(overridden.partSize, 5 * 1024 * 1024);

    const awsRegion = parseReplicaUrl("s3://bucket/db", {
      env: { ...env, AWS_REGION: "ap-south-1" },
    }) as S3ReplicaClient;
    assert.equal(awsRegion.region, "ap-south-1");
  });

  it("an s3 URL without a path is an error with a hint", () => {
    usage("s3://bucket", /no path/, /give the replica a path, e\.g\. s3:\/\/bucket\/db/);
    usage("s3://bucket/", /no path/, /give the replica a path/);
    usage("s3://bucket///?endpoint=http://x", /no path/);
  });

  it("unknown schemes, parameters and malformed values are usage errors", () => {
    usage("gs://bucket/db", /unsupported replica URL scheme "gs:"/, /file:\/\/\/path/);
    usage("abs://acct@host/c/db", /unsupported replica URL scheme "abs:"/);
    usage("sftp://user:pw@host/db", /unsupported/);
    usage("s3://bucket/db?endpont=http://x", /unknown S3 replica URL parameter "endpont"/, /endpoint/);
    usage("s3://bucket/db?force-path-style=maybe", /must be true or false/);
    usage("s3://bucket/db?part-size=1MiB", /below the S3 minimum/);
    usage("s3://bucket/db?part-size=lots", /must be a size/);
    usage("s3://bucket/db?concurrency=0", /concurrency/);
    usage("s3://bucket/db?region=a&region=b", /given twice/);
    usage("s3://key:secret@bucket/db", /must not carry credentials/);
    usage("s3://bucket/db?endpoint=ftp://host", /http:\/\/ or https:\/\//);
    usage("s3://bucket/db?endpoint=http://u:p@host", /must not contain credentials/);
    usage("file://otherhost/x", /names a host/);
    usage("file:///x?y=1", /has parameters/);
    usage("", /empty replica URL/);
    usage("s3:bucket/db", /not a path or a scheme/);
  });

  it("never puts the secret of an s3 URL's userinfo into the message", () => {
    try {
      parseReplicaUrl("s3://AKID:topsecretvalue@bucket/db", { env });
      assert.fail("expected an error");
    } catch (e) {
      assert.ok(isWalshipError(e));
      assert.ok(!e.message.includes("topsecretvalue"));
    }
    try {
      parseReplicaUrl("gs://AKID:topsecretvalue@bucket/db", { env });
      assert.fail("expected an error");
    } catch (e) {
      assert.ok(isWalshipError(e));
      assert.ok(!e.message.includes("topsecretvalue"));
    }
  });

  it("parses sizes", () => {
    assert.equal(parseSize("p", "5242880"), 5_242_880);
    assert.equal(parseSize("p", "5MiB"), 5 * 1024 * 1024);
    assert.equal(parseSize("p", "5MB"), 5 * 1024 * 1024);
    assert.equal(parseSize("p", "1g"), 1024 ** 3);
    assert.equal(parseSize("p", "64KiB"), 64 * 1024);
  });
});
