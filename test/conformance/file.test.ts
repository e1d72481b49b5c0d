/** The ReplicaClient conformance suite against FileReplicaClient, plus file-layout specifics. */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isWalshipError } from "../../src/errors.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { runReplicaClientConformance } from "./replica-client.suite.js";

async function makeFileHarness() {
  const dir = await mkdtemp(join(tmpdir(), "walship-file-replica-"));
  const root = join(dir, "replica");
  const client = new FileReplicaClient(root);
  return {
    client,
    root,
    cleanup: () => rm(dir, { recursive: true, force: true }),
    putRaw: async (level: number, name: string, data: Uint8Array) => {
      const d = join(root, "ltx", String(level));
      await mkdir(d, { recursive: true });
      await writeFile(join(d, name), data);
    },
  };
}

runReplicaClientConformance("file", makeFileHarness);

describe("FileReplicaClient specifics", () => {
  it("uses Litestream's file layout <root>/ltx/<level decimal>/<min>-<max>.ltx with mtime = timestamp", async () => {
    const h = await makeFileHarness();
    try {
      await h.client.write(9, 1n, 0x40n, new Uint8Array([1, 2, 3]), { timestamp: 1_764_250_620_123 });
      await h.client.write(0, 0x2an, 0x2an, new Uint8Array([4]), { timestamp: 1_000 });
      const p9 = join(h.root, "ltx", "9", "0000000000000001-0000000000000040.ltx");
      const p0 = join(h.root, "ltx", "0", "000000000000002a-000000000000002a.ltx");
      assert.ok(existsSync(p9));
      assert.ok(existsSync(p0));
      assert.equal(Math.round((await stat(p9)).mtimeMs), 1_764_250_620_123);
      assert.equal(Math.round((await stat(p0)).mtimeMs), 1_000);
      // No temp file remains.
      assert.deepEqual(await readdir(join(h.root, "ltx", "9")), ["0000000000000001-0000000000000040.ltx"]);
      assert.equal(h.client.location, h.root);
      assert.equal(h.client.type, "file");
    } finally {
      await h.cleanup();
    }
  });

  it("ignores a directory named like an LTX file", async () => {
    const h = await makeFileHarness();
    try {
      await mkdir(join(h.root, "ltx", "0", "0000000000000001-0000000000000001.ltx"), { recursive: true });
      assert.deepEqual(await h.client.list(0), []);
    } finally {
      await h.cleanup();
    }
  });

  it("a stale temp file from a crash is ignored and overwritten by the next write", async () => {
    const h = await makeFileHarness();
    try {
      await h.putRaw(0, "0000000000000001-0000000000000001.ltx.tmp", new Uint8Array(100));
      assert.deepEqual(await h.client.list(0), []);
      await h.client.write(0, 1n, 1n, new Uint8Array([9]), { timestamp: 1 });
      assert.deepEqual(await readdir(join(h.root, "ltx", "0")), ["0000000000000001-0000000000000001.ltx"]);
    } finally {
      await h.cleanup();
    }
  });

  it("maps permission errors to code permission", async (t) => {
    const h = await makeFileHarness();
    try {
      await h.client.write(0, 1n, 1n, new Uint8Array([1]), { timestamp: 1 });
      const levelDir = join(h.root, "ltx", "0");
      if (process.getuid?.() !== 0) {
        await chmod(levelDir, 0o500);
        try {
          await assert.rejects(
            h.client.write(0, 2n, 2n, new Uint8Array([1]), { timestamp: 1 }),
            (e: unknown) => isWalshipError(e, "permission"),
          );
        } finally {
          await chmod(levelDir, 0o755);
        }
        return;
      }
      // Root ignores modes: try the write as an unprivileged user in a child process instead.
      await chmod(join(h.root, ".."), 0o755);
      const moduleUrl = new URL("../../src/replica/file.ts", import.meta.url).href;
      const script = `
        import { FileReplicaClient } from ${JSON.stringify(moduleUrl)};
        const c = new FileReplicaClient(${JSON.stringify(h.root)});
        try { await c.write(0, 2n, 2n, new Uint8Array([1]), { timestamp: 1 }); console.log("ok"); }
        catch (e) { console.log(e.code); }`;
      const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        uid: 65534,
        gid: 65534,
        encoding: "utf8",
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        env: { ...process.env, HOME: tmpdir() },
      });
      if (r.stdout.trim() === "") {
        // The unprivileged child could not even load the module (e.g. the checkout is under a 0700 home).
        t.skip(`cannot run a child as uid 65534 here: ${r.error?.message ?? r.stderr.split("\n")[0]}`);
        return;
      }
      assert.equal(r.stdout.trim(), "permission", r.stderr);
    } finally {
      await h.cleanup();
    }
  });

  it("a root path that is a file fails with a typed error, not a crash", async () => {
    const dir = await mkdtemp(join(tmpdir(), "walship-file-replica-"));
    try {
      const f = join(dir, "not-a-dir");
      await writeFile(f, "x");
      const c = new FileReplicaClient(f);
      await assert.rejects(c.list(0), (e: unknown) => isWalshipError(e));
      await assert.rejects(c.write(0, 1n, 1n, new Uint8Array([1]), { timestamp: 1 }), (e: unknown) =>
        isWalshipError(e),
      );
      await assert.rejects(c.open(0, 1n, 1n), (e: unknown) => isWalshipError(e));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
