/** Unit tests of the S3 client's parts: XML reading, RFC 3339 timestamps, credential resolution. */

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import { parseIni, resolveCredentials } from "../../src/replica/s3/credentials.js";
import { formatRfc3339Nano, parseRfc3339 } from "../../src/replica/s3/rfc3339.js";
import {
  completeMultipartXml,
  deleteObjectsXml,
  parseDeleteResult,
  parseErrorBody,
  parseListObjectsV2,
  xmlEscape,
  xmlText,
  xmlUnescape,
} from "../../src/replica/s3/xml.js";

describe("S3 XML", () => {
  it("parses a ListObjectsV2 page with entities, paging fields and odd keys", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>db/0000/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>db/0000/0000000000000001-0000000000000001.ltx</Key><LastModified>2026-11-27T13:37:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>567</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents>
    <Key>db/0000/a&amp;b&lt;c&gt;&#39;&#x41;.ltx</Key>
    <LastModified>2026-11-27T13:37:01Z</LastModified>
    <Size>0</Size>
  </Contents>
  <Contents><Key>db/0000/&lt;IsTruncated&gt;false&lt;/IsTruncated&gt;</Key><Size>1</Size><LastModified>2026-11-27T13:37:02Z</LastModified></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;x</NextContinuationToken>
</ListBucketResult>`;
    const page = parseListObjectsV2(xml);
    assert.equal(page.isTruncated, true);
    assert.equal(page.nextContinuationToken, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&x");
    assert.deepEqual(page.objects, [
      {
        key: "db/0000/0000000000000001-0000000000000001.ltx",
        size: 567,
        lastModified: "2026-11-27T13:37:00.000Z",
      },
      { key: "db/0000/a&b<c>'A.ltx", size: 0, lastModified: "2026-11-27T13:37:01Z" },
      { key: "db/0000/<IsTruncated>false</IsTruncated>", size: 1, lastModified: "2026-11-27T13:37:02Z" },
    ]);
    const last = parseListObjectsV2(
      "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>",
    );
    assert.deepEqual(last, { objects: [], isTruncated: false, nextContinuationToken: undefined });
  });

  it("reads error documents and DeleteObjects results", () => {
    const err = parseErrorBody(
      '<?xml version="1.0"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>the region &apos;us-east-1&apos; is wrong</Message><Region>eu-west-1</Region><RequestId>1</RequestId></Error>',
    );
    assert.deepEqual(err, {
      code: "AuthorizationHeaderMalformed",
      message: "the region 'us-east-1' is wrong",
      region: "eu-west-1",
    });
    assert.deepEqual(parseErrorBody(""), { code: undefined, message: undefined, region: undefined });
    const del = parseDeleteResult(
      "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b&amp;c</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>",
    );
    assert.deepEqual(del, [{ key: "b&c", code: "AccessDenied", message: "Access Denied" }]);
    assert.deepEqual(parseDeleteResult("<DeleteResult/>"), []);
  });

  it("writes DeleteObjects and CompleteMultipartUpload bodies with escaping", () => {
    assert.equal(
      deleteObjectsXml(["a/b.ltx", "x&y<z>"]),
      '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/b.ltx</Key></Object><Object><Key>x&amp;y&lt;z&gt;</Key></Object><Quiet>true</Quiet></Delete>',
    );
    assert.equal(
      completeMultipartXml([{ partNumber: 1, etag: '"e1"' }]),
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>&quot;e1&quot;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
    );
  });

  it("entity handling round-trips and leaves unknown entities alone", () => {
    const s = `a&b<c>"d'e`;
    assert.equal(xmlUnescape(xmlEscape(s)), s);
    assert.equal(xmlUnescape("&unknown; &#128512; &#x1F600;"), "&unknown; 😀 😀");
    assert.equal(xmlText("<KeyCount>5</KeyCount><Key>k</Key>", "Key"), "k");
    assert.equal(xmlText("<Key/>", "Key"), "");
    assert.equal(xmlText("<Other>x</Other>", "Key"), undefined);
  });
});

describe("RFC 3339 timestamps", () => {
  it("formats like Go's time.RFC3339Nano in UTC (trailing zeros trimmed)", () => {
    assert.equal(formatRfc3339Nano(Date.UTC(2026, 10, 27, 13, 37, 0, 123)), "2026-11-27T13:37:00.123Z");
    assert.equal(formatRfc3339Nano(Date.UTC(2026, 10, 27, 13, 37, 0, 120)), "2026-11-27T13:37:00.12Z");
    assert.equal(formatRfc3339Nano(Date.UTC(2026, 10, 27, 13, 37, 0, 100)), "2026-11-27T13:37:00.1Z");
    assert.equal(formatRfc3339Nano(Date.UTC(2026, 10, 27, 13, 37, 0, 0)), "2026-11-27T13:37:00Z");
    assert.equal(formatRfc3339Nano(Date.UTC(2026, 10, 27, 13, 37, 0, 1)), "2026-11-27T13:37:00.001Z");
    assert.equal(formatRfc3339Nano(0), "1970-01-01T00:00:00Z");
  });

  it("parses any RFC 3339 form Litestream or a server may send", () => {
    const t = Date.UTC(2026, 10, 27, 13, 37, 0, 123);
    assert.equal(parseRfc3339("2026-11-27T13:37:00.123Z"), t);
    assert.equal(parseRfc3339("2026-11-27T13:37:00.123456789Z"), t);
    assert.equal(parseRfc3339("2026-11-27T13:37:00.1239Z"), t);
    assert.equal(parseRfc3339("2026-11-27T13:37:00.12Z"), t - 3);
    assert.equal(parseRfc3339("2026-11-27T13:37:00Z"), t - 123);
    assert.equal(parseRfc3339("2026-11-27T15:37:00.123+02:00"), t);
    assert.equal(parseRfc3339("2026-11-27T12:07:00.123-01:30"), t);
    assert.equal(parseRfc3339("2026-11-27t13:37:00.123z"), t);
    for (const bad of ["", "2026-11-27", "2026-11-27T13:37Z", "yesterday", "2026-11-27T13:37:00.Z"]) {
      assert.equal(parseRfc3339(bad), undefined, bad);
    }
    for (const ms of [0, 1, 999, 1_764_250_620_123, 1_600_000_000_000])
      assert.equal(parseRfc3339(formatRfc3339Nano(ms)), ms);
  });
});

describe("S3 credentials", () => {
  it("prefers explicit options, then AWS_*, then LITESTREAM_*, then the shared file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "walship-creds-"));
    try {
      const file = join(dir, "credentials");
      await writeFile(
        file,
        "# comment\n[default]\naws_access_key_id = FILEKEY\naws_secret_access_key=FILESECRET\n\n[other]\n; c\naws_access_key_id=OTHERKEY\naws_secret_access_key = OTHERSECRET\naws_session_token = OTHERTOKEN\n",
      );
      const base = { HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file };
      const full = {
        ...base,
        AWS_ACCESS_KEY_ID: "ENVKEY",
        AWS_SECRET_ACCESS_KEY: "ENVSECRET",
        AWS_SESSION_TOKEN: "ENVTOKEN",
        LITESTREAM_ACCESS_KEY_ID: "LSKEY",
        LITESTREAM_SECRET_ACCESS_KEY: "LSSECRET",
      };
      const explicit = await resolveCredentials({
        accessKeyId: "OPTKEY",
        secretAccessKey: "OPTSECRET",
        env: full,
      });
      assert.deepEqual(
        [explicit.accessKeyId, explicit.secretAccessKey, explicit.source],
        ["OPTKEY", "OPTSECRET", "options"],
      );
      const env = await resolveCredentials({ env: full });
      assert.deepEqual(
        [env.accessKeyId, env.secretAccessKey, env.sessionToken],
        ["ENVKEY", "ENVSECRET", "ENVTOKEN"],
      );
      const ls = await resolveCredentials({
        env: { ...base, LITESTREAM_ACCESS_KEY_ID: "LSKEY", LITESTREAM_SECRET_ACCESS_KEY: "LSSECRET" },
      });
      assert.deepEqual([ls.accessKeyId, ls.secretAccessKey], ["LSKEY", "LSSECRET"]);
      const fromFile = await resolveCredentials({ env: base });
      assert.deepEqual([fromFile.accessKeyId, fromFile.secretAccessKey], ["FILEKEY", "FILESECRET"]);
      const profile = await resolveCredentials({ env: { ...base, AWS_PROFILE: "other" } });
      assert.deepEqual(
        [profile.accessKeyId, profile.secretAccessKey, profile.sessionToken],
        ["OTHERKEY", "OTHERSECRET", "OTHERTOKEN"],
      );
      // Only half of the AWS pair set: not used.
      const half = await resolveCredentials({ env: { ...base, AWS_ACCESS_KEY_ID: "HALF" } });
      assert.equal(half.accessKeyId, "FILEKEY");
      // ~/.aws/credentials through HOME.
      await writeFile(file, "");
      await assert.rejects(resolveCredentials({ env: { HOME: dir } }), (e: unknown) =>
        isWalshipError(e, "storage_auth"),
      );
      await assert.rejects(resolveCredentials({ env: { ...base, AWS_PROFILE: "missing" } }), (e: unknown) =>
        isWalshipError(e, "storage_auth"),
      );
      await assert.rejects(resolveCredentials({ accessKeyId: "ONLYKEY", env: {} }), (e: unknown) =>
        isWalshipError(e, "config"),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("parses INI sections and keys", () => {
    const ini = parseIni("[a]\nK = v \n[ b ]\nx=1=2\n");
    assert.equal(ini.get("a")?.get("k"), "v");
    assert.equal(ini.get("b")?.get("x"), "1=2");
  });
});
