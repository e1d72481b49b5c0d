/** `walship ltx inspect` and `walship ltx verify`, run through their Command objects. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import type { CliIO } from "../../src/cli/command.js";
import { command as inspect } from "../../src/cli/ltx-inspect.js";
import { command as verify } from "../../src/cli/ltx-verify.js";
import { exitCodeFor, isWalshipError } from "../../src/errors.js";
import { fixture, GENERATED, LITESTREAM_V1, manifest } from "../ltx/helpers.js";

function io(): { io: CliIO; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = "";
  let e = "";
  stdout.on("data", (c) => (o += c));
  stderr.on("data", (c) => (e += c));
  return {
    io: { stdout, stderr, env: {}, signal: new AbortController().signal, isTTY: false },
    out: () => o,
    err: () => e,
  };
}

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "walship-ltx-cli-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("walship ltx inspect", () => {
  test("paths", () => {
    assert.deepEqual(inspect.path, ["ltx", "inspect"]);
    assert.deepEqual(verify.path, ["ltx", "verify"]);
  });

  for (const m of manifest) {
    test(`--json matches the manifest for ${m.file}`, async () => {
      const c = io();
      assert.equal(await inspect.run([join(GENERATED, m.file), "--json"], c.io), 0);
      const j = JSON.parse(c.out());
      assert.deepEqual(Object.keys(j), [
        "flags",
        "pageSize",
        "commit",
        "minTXID",
        "maxTXID",
        "timestamp",
        "preApplyChecksum",
        "postApplyChecksum",
        "fileChecksum",
        "walOffset",
        "walSize",
        "walSalt1",
        "walSalt2",
        "nodeID",
        "pages",
      ]);
      const { magic: _magic, ...h } = m.header;
      for (const [k, v] of Object.entries(h)) assert.deepEqual(j[k], v, k);
      assert.equal(j.postApplyChecksum, m.trailer.postApplyChecksum);
      assert.equal(j.fileChecksum, m.trailer.fileChecksum);
      assert.deepEqual(
        j.pages,
        m.pages.map((p) => ({ pgno: p.pgno, offset: p.frameOffset, size: p.frameSize })),
      );
    });
  }

  test("text output names the encoding and lists pages", async () => {
    const c = io();
    assert.equal(await inspect.run([join(GENERATED, "v3legacy-frame-l0-nochecksum.ltx")], c.io), 0);
    const out = c.out();
    assert.match(out, /encoding: +lz4-frame, legacy/);
    assert.match(out, /flags: +0x00000002 \(NoChecksum\)/);
    assert.match(out, /min TXID: +0000000000000009/);
    assert.match(out, /\n +1 +100 +4121\n +3 +4221 +63\n$/);
    const d = io();
    await inspect.run([join(GENERATED, "v3-commit0-deletion.ltx")], d.io);
    assert.match(d.out(), /encoding: +none \(no pages\)/);
  });

  test("usage errors", async () => {
    await assert.rejects(inspect.run([], io().io), (e: unknown) => isWalshipError(e, "usage"));
    await assert.rejects(inspect.run(["a", "b"], io().io), (e: unknown) => isWalshipError(e, "usage"));
    await assert.rejects(inspect.run(["a", "--bogus"], io().io), (e: unknown) => isWalshipError(e, "usage"));
  });
});

describe("walship ltx verify", () => {
  test("prints ok for every test vector", async () => {
    for (const m of manifest) {
      const c = io();
      assert.equal(await verify.run([join(GENERATED, m.file)], c.io), 0);
      assert.equal(c.out(), "ok\n");
    }
  });

  test("a corrupt file throws a one-line error naming the field; exit code 7", async () => {
    const bad = fixture("v3-snapshot-sqlite-4096x10-nochecksum.ltx");
    bad[bad.length - 3] ^= 0xff;
    const p = join(dir, "bad.ltx");
    await writeFile(p, bad);
    await assert.rejects(verify.run([p], io().io), (e: unknown) => {
      assert.ok(isWalshipError(e, "ltx_checksum"));
      assert.match(e.oneLine(), /bad\.ltx: fileChecksum: file checksum mismatch.*\(at byte 2209\)$/);
      assert.ok(!e.oneLine().includes("\n"));
      assert.equal(exitCodeFor(e), 7);
      return true;
    });
  });

  test("truncated, v1 and missing files", async () => {
    const p = join(dir, "short.ltx");
    await writeFile(p, fixture("v3-l0-nochecksum-sparse.ltx").subarray(0, 200));
    await assert.rejects(
      verify.run([p], io().io),
      (e: unknown) => isWalshipError(e, "ltx_truncated") && exitCodeFor(e) === 7,
    );
    await assert.rejects(verify.run([LITESTREAM_V1], io().io), (e: unknown) => {
      assert.ok(isWalshipError(e, "ltx_unsupported"));
      assert.match(e.message, /LTX format v1/);
      return exitCodeFor(e) === 7;
    });
    await assert.rejects(verify.run([join(dir, "nope.ltx")], io().io), (e: unknown) => isWalshipError(e));
  });
});
