/**
 * The ReplicaClient contract (src/replica/client.ts), clause by clause, as one suite every backend runs:
 * test/conformance/file.test.ts (FileReplicaClient) and test/conformance/s3.test.ts (S3 on versitygw).
 *
 * makeClient must return a client on a fresh, empty replica each time. The optional extras let the suite
 * check what only out-of-band access can set up (foreign objects, temp files) and what only some backends
 * do (multipart above a part size, HEAD requests for exact timestamps).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import type { LtxFileInfo, ReplicaClient, RequestCounts } from "../../src/replica/client.js";

export interface ConformanceHarness {
  client: ReplicaClient;
  cleanup: () => Promise<void>;
  /** Stores bytes under a raw name in a level's folder/prefix, bypassing the client. */
  putRaw?: (level: number, name: string, data: Uint8Array) => Promise<void>;
  /** Secrets that must never appear in `location` or in error messages. */
  secrets?: string[];
  /** Size of one upload part when the backend splits large writes (S3 multipart); checked with PUT counts. */
  partSize?: number;
  /** Whether list({exactTimestamps}) costs HEAD requests on this backend. */
  headsForExactTimestamps?: boolean;
  /** Requests one DeleteObjects-style call makes per this many files (S3: 1000); unset = not batched. */
  deleteBatch?: number;
}

const MiB = 1024 * 1024;
const enc = new TextEncoder();

function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

/** Deterministic pseudo-random bytes (xorshift32) so large bodies are not trivially compressible. */
function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

async function* chunked(data: Uint8Array, chunkSize: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; off += chunkSize) {
    await Promise.resolve();
    yield data.subarray(off, Math.min(data.length, off + chunkSize));
  }
}

function ids(list: LtxFileInfo[]): string[] {
  return list.map((f) => `${f.level}:${f.minTXID.toString(16)}-${f.maxTXID.toString(16)}`);
}

async function expectCode(p: Promise<unknown>, code: string, secrets: string[] = []): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isWalshipError(e), `expected a WalshipError, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    for (const s of secrets) {
      assert.ok(!e.message.includes(s), "error message leaks a secret");
      assert.ok(!(e.hint ?? "").includes(s), "error hint leaks a secret");
    }
    return true;
  });
}

function delta(before: RequestCounts, after: RequestCounts): RequestCounts {
  return {
    PUT: after.PUT - before.PUT,
    GET: after.GET - before.GET,
    LIST: after.LIST - before.LIST,
    DELETE: after.DELETE - before.DELETE,
    HEAD: after.HEAD - before.HEAD,
  };
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

export function runReplicaClientConformance(
  name: string,
  makeClient: () => Promise<ConformanceHarness>,
): void {
  const withClient = (
    title: string,
    fn: (h: ConformanceHarness) => Promise<void>,
    opts: { timeout?: number } = {},
  ) =>
    it(title, { timeout: opts.timeout ?? 60_000 }, async () => {
      const h = await makeClient();
      try {
        await fn(h);
      } finally {
        await h.client.close();
        await h.cleanup();
      }
    });

  describe(`ReplicaClient conformance: ${name}`, () => {
    withClient("type and location are printable and hold no secret", async ({ client, secrets = [] }) => {
      assert.equal(typeof client.type, "string");
      assert.ok(client.type.length > 0);
      assert.equal(typeof client.location, "string");
      assert.ok(client.location.length > 0);
      for (const s of secrets) assert.ok(!client.location.includes(s), "location leaks a secret");
    });

    withClient("an empty replica lists nothing at every level", async ({ client }) => {
      for (let level = 0; level <= 9; level++) assert.deepEqual(await client.list(level), []);
      assert.deepEqual(await client.list(0, { fromTXID: 5n, exactTimestamps: true }), []);
    });

    withClient("write then list and open round trip, levels are separate", async ({ client }) => {
      await client.write(0, 1n, 1n, bytes("level zero"), { timestamp: 1_000 });
      await client.write(1, 1n, 1n, bytes("level one!!"), { timestamp: 2_000 });
      await client.write(9, 1n, 0x40n, bytes("snapshot"), { timestamp: 3_000 });
      const l0 = await client.list(0);
      assert.deepEqual(ids(l0), ["0:1-1"]);
      assert.equal(l0[0]!.size, 10);
      assert.equal(typeof l0[0]!.createdAt, "number");
      assert.deepEqual(ids(await client.list(1)), ["1:1-1"]);
      assert.equal((await client.list(1))[0]!.size, 11);
      assert.deepEqual(ids(await client.list(9)), ["9:1-40"]);
      for (const level of [2, 3, 8]) assert.deepEqual(await client.list(level), []);
      assert.equal(Buffer.from(await client.open(0, 1n, 1n)).toString(), "level zero");
      assert.equal(Buffer.from(await client.open(1, 1n, 1n)).toString(), "level one!!");
      assert.equal(Buffer.from(await client.open(9, 1n, 0x40n)).toString(), "snapshot");
      const opened = await client.open(0, 1n, 1n);
      assert.ok(opened instanceof Uint8Array);
    });

    withClient("list sorts by minTXID, then maxTXID", async ({ client }) => {
      const ranges: Array<[bigint, bigint]> = [
        [0x10n, 0x20n],
        [5n, 9n],
        [1n, 3n],
        [0xffn, 0x100n],
        [1n, 2n],
        [4n, 4n],
        [0x1000n, 0x1000n],
        [0xan, 0xfn],
      ];
      await Promise.all(ranges.map(([a, b]) => client.write(1, a, b, bytes(`${a}-${b}`), { timestamp: 1 })));
      assert.deepEqual(ids(await client.list(1)), [
        "1:1-2",
        "1:1-3",
        "1:4-4",
        "1:5-9",
        "1:a-f",
        "1:10-20",
        "1:ff-100",
        "1:1000-1000",
      ]);
    });

    withClient("fromTXID keeps files whose minTXID >= fromTXID", async ({ client }) => {
      for (const [a, b] of [
        [1n, 3n],
        [4n, 4n],
        [5n, 9n],
        [10n, 20n],
        [0x100n, 0x1ffn],
      ] as Array<[bigint, bigint]>) {
        await client.write(1, a, b, bytes("x"), { timestamp: 1 });
      }
      assert.deepEqual(ids(await client.list(1, { fromTXID: 0n })), [
        "1:1-3",
        "1:4-4",
        "1:5-9",
        "1:a-14",
        "1:100-1ff",
      ]);
      assert.deepEqual(ids(await client.list(1, { fromTXID: 4n })), [
        "1:4-4",
        "1:5-9",
        "1:a-14",
        "1:100-1ff",
      ]);
      // 2 lies inside 1-3: that file starts below fromTXID and is left out.
      assert.deepEqual(ids(await client.list(1, { fromTXID: 2n })), [
        "1:4-4",
        "1:5-9",
        "1:a-14",
        "1:100-1ff",
      ]);
      assert.deepEqual(ids(await client.list(1, { fromTXID: 0xffn })), ["1:100-1ff"]);
      assert.deepEqual(ids(await client.list(1, { fromTXID: 0x100n })), ["1:100-1ff"]);
      assert.deepEqual(await client.list(1, { fromTXID: 0x200n }), []);
      assert.deepEqual(await client.list(1, { fromTXID: 0xffff_ffff_ffff_ffffn }), []);
    });

    withClient("TXIDs at the ends of the 64-bit range", async ({ client }) => {
      const max = 0xffff_ffff_ffff_ffffn;
      await client.write(2, max, max, bytes("top"), { timestamp: 1 });
      await client.write(2, 0n, 0n, bytes("zero"), { timestamp: 1 });
      const l = await client.list(2);
      assert.deepEqual(ids(l), ["2:0-0", "2:ffffffffffffffff-ffffffffffffffff"]);
      assert.equal(l[1]!.maxTXID, max);
      assert.equal(Buffer.from(await client.open(2, max, max)).toString(), "top");
      assert.deepEqual(ids(await client.list(2, { fromTXID: max })), ["2:ffffffffffffffff-ffffffffffffffff"]);
    });

    withClient("names that are not LTX files (temp files, foreign objects) are ignored", async (h) => {
      const { client } = h;
      await client.write(0, 3n, 3n, bytes("real"), { timestamp: 1 });
      if (!h.putRaw) return; // nothing else to check without out-of-band access
      const junk = [
        "0000000000000001-0000000000000001.ltx.tmp",
        "0000000000000002-0000000000000002.ltx.3f2a.tmp",
        "0000000000000004-0000000000000004.tmp",
        "00000000000000AA-00000000000000AA.ltx",
        "00000000000000aa-00000000000000aa.LTX",
        "1-2.ltx",
        "000000000000001-0000000000000001.ltx",
        "0000000000000005-0000000000000005.ltx.bak",
        "x0000000000000006-0000000000000006.ltx",
        "README.txt",
        "lock.json",
      ];
      for (const n of junk) await h.putRaw(0, n, bytes("junk"));
      assert.deepEqual(ids(await client.list(0)), ["0:3-3"]);
      assert.deepEqual(ids(await client.list(0, { fromTXID: 1n, exactTimestamps: true })), ["0:3-3"]);
    });

    withClient("open with offset and length, including ranges past the end", async ({ client }) => {
      const data = pattern(1000, 7);
      await client.write(3, 7n, 9n, data, { timestamp: 1 });
      const read = (offset?: number, length?: number) => client.open(3, 7n, 9n, { offset, length });
      assert.deepEqual(await read(), data);
      assert.deepEqual(await read(0, 10), data.subarray(0, 10));
      assert.deepEqual(await read(990, 10), data.subarray(990, 1000));
      assert.deepEqual(await read(100, 1), data.subarray(100, 101));
      assert.deepEqual(await read(500), data.subarray(500));
      assert.deepEqual(await read(undefined, 20), data.subarray(0, 20));
      assert.deepEqual(await read(995, 100), data.subarray(995, 1000));
      assert.equal((await read(1000)).length, 0);
      assert.equal((await read(1000, 10)).length, 0);
      assert.equal((await read(5000, 10)).length, 0);
      assert.equal((await read(10, 0)).length, 0);
      assert.equal((await read(0, 1000)).length, 1000);
    });

    withClient("a missing file fails with replica_not_found", async ({ client, secrets }) => {
      await expectCode(client.open(0, 1n, 1n), "replica_not_found", secrets);
      await expectCode(client.open(0, 1n, 1n, { offset: 10, length: 5 }), "replica_not_found", secrets);
      await client.write(0, 1n, 1n, bytes("present"), { timestamp: 1 });
      await expectCode(client.open(0, 2n, 2n), "replica_not_found", secrets);
      await expectCode(client.open(1, 1n, 1n), "replica_not_found", secrets);
      await expectCode(client.open(0, 1n, 2n, { length: 0 }), "replica_not_found", secrets);
    });

    withClient("writing an existing name replaces it", async ({ client }) => {
      await client.write(0, 5n, 5n, bytes("first version, longer"), { timestamp: 1_000 });
      await client.write(0, 5n, 5n, bytes("second"), { timestamp: 2_000 });
      const l = await client.list(0, { exactTimestamps: true });
      assert.deepEqual(ids(l), ["0:5-5"]);
      assert.equal(l[0]!.size, 6);
      assert.equal(l[0]!.createdAt, 2_000);
      assert.equal(Buffer.from(await client.open(0, 5n, 5n)).toString(), "second");
    });

    withClient("the write timestamp comes back as createdAt (exactTimestamps)", async ({ client }) => {
      const stamps: Array<[bigint, number]> = [
        [1n, 1_764_250_620_123], // milliseconds kept
        [2n, 1_600_000_000_000], // whole second
        [3n, 1_700_000_000_100], // trailing zeros trimmed in RFC 3339
        [4n, 1_700_000_000_010],
        [5n, 1_700_000_000_001],
        [6n, 86_400_000], // 1970-01-02
      ];
      for (const [txid, ts] of stamps)
        await client.write(0, txid, txid, bytes(`t${txid}`), { timestamp: ts });
      const exact = await client.list(0, { exactTimestamps: true });
      assert.deepEqual(
        exact.map((f) => [f.minTXID, f.createdAt]),
        stamps,
      );
      const fast = await client.list(0);
      for (const f of fast) assert.ok(Number.isFinite(f.createdAt) && f.createdAt > 0);
    });

    withClient("delete removes the named files; missing ones are not an error", async ({ client }) => {
      for (const t of [1n, 2n, 3n]) await client.write(0, t, t, bytes(`f${t}`), { timestamp: 1 });
      await client.write(1, 1n, 3n, bytes("l1"), { timestamp: 1 });
      await client.delete([
        { level: 0, minTXID: 1n, maxTXID: 1n },
        { level: 0, minTXID: 3n, maxTXID: 3n },
        { level: 0, minTXID: 9n, maxTXID: 9n },
        { level: 4, minTXID: 1n, maxTXID: 1n },
      ]);
      assert.deepEqual(ids(await client.list(0)), ["0:2-2"]);
      assert.deepEqual(ids(await client.list(1)), ["1:1-3"]);
      await client.delete([]);
      await client.delete([{ level: 0, minTXID: 1n, maxTXID: 1n }]); // already gone
      await client.delete([{ level: 1, minTXID: 1n, maxTXID: 3n }]);
      assert.deepEqual(await client.list(1), []);
      await expectCode(client.open(0, 1n, 1n), "replica_not_found");
    });

    withClient(
      "deleting more than 1000 files in one call",
      async (h) => {
        const { client } = h;
        const n = 1001;
        const refs = Array.from({ length: n }, (_, i) => ({
          level: 2,
          minTXID: BigInt(i + 1),
          maxTXID: BigInt(i + 1),
        }));
        await pool(refs, 16, (r) =>
          client.write(r.level, r.minTXID, r.maxTXID, bytes("d"), { timestamp: 1 }),
        );
        assert.equal((await client.list(2)).length, n);
        const before = { ...client.requests };
        await client.delete(refs);
        const d = delta(before, client.requests);
        if (h.deleteBatch) assert.equal(d.DELETE, Math.ceil(n / h.deleteBatch), "deletes are batched");
        else assert.ok(d.DELETE >= 1);
        assert.deepEqual(await client.list(2), []);
      },
      { timeout: 180_000 },
    );

    withClient("a streamed (AsyncIterable) write stores the concatenated chunks", async ({ client }) => {
      const data = pattern(300_000, 3);
      await client.write(0, 8n, 8n, chunked(data, 65_537), { timestamp: 5_000 });
      const l = await client.list(0, { exactTimestamps: true });
      assert.deepEqual(ids(l), ["0:8-8"]);
      assert.equal(l[0]!.size, data.length);
      assert.equal(l[0]!.createdAt, 5_000);
      assert.equal(sha(await client.open(0, 8n, 8n)), sha(data));
      // Empty stream: an empty file.
      await client.write(0, 9n, 9n, chunked(new Uint8Array(0), 10), { timestamp: 1 });
      assert.equal((await client.list(0, { fromTXID: 9n }))[0]!.size, 0);
      assert.equal((await client.open(0, 9n, 9n)).length, 0);
    });

    withClient(
      "large writes (> 5 MiB) streamed and in memory",
      async (h) => {
        const { client } = h;
        const size = 11 * MiB + 12_345; // three parts of 5 MiB on S3
        const data = pattern(size, 11);
        let before = { ...client.requests };
        await client.write(9, 1n, 0x99n, chunked(data, 1_000_003), { timestamp: 7_777 });
        let d = delta(before, client.requests);
        if (h.partSize) {
          // CreateMultipartUpload + one UploadPart per part + CompleteMultipartUpload.
          assert.equal(d.PUT, Math.ceil(size / h.partSize) + 2, "multipart upload");
        } else {
          assert.ok(d.PUT >= 1);
        }
        const l = await client.list(9, { exactTimestamps: true });
        assert.equal(l[0]!.size, size);
        assert.equal(l[0]!.createdAt, 7_777);
        assert.equal(sha(await client.open(9, 1n, 0x99n)), sha(data));
        const edge = 5 * MiB;
        assert.deepEqual(
          await client.open(9, 1n, 0x99n, { offset: edge - 100, length: 200 }),
          data.subarray(edge - 100, edge + 100),
        );
        assert.deepEqual(await client.open(9, 1n, 0x99n, { offset: size - 10 }), data.subarray(size - 10));

        // The same size handed over as one Uint8Array.
        before = { ...client.requests };
        await client.write(9, 1n, 0x9an, data, { timestamp: 8_888 });
        d = delta(before, client.requests);
        if (h.partSize) assert.equal(d.PUT, Math.ceil(size / h.partSize) + 2);
        assert.equal(sha(await client.open(9, 1n, 0x9an)), sha(data));

        // Exactly one part: a single request.
        if (h.partSize) {
          const one = pattern(h.partSize, 5);
          before = { ...client.requests };
          await client.write(8, 1n, 1n, chunked(one, 777_777), { timestamp: 1 });
          assert.equal(delta(before, client.requests).PUT, 1, "a body of exactly one part is one PutObject");
          assert.equal(sha(await client.open(8, 1n, 1n)), sha(one));
        }
      },
      { timeout: 180_000 },
    );

    withClient(
      "a write whose body fails leaves the previous file (or none) in place",
      async ({ client }) => {
        async function* failing(after: number): AsyncGenerator<Uint8Array> {
          yield pattern(after, 2);
          throw new Error("source broke");
        }
        await assert.rejects(client.write(0, 1n, 1n, failing(1000), { timestamp: 1 }));
        assert.deepEqual(await client.list(0), []);
        await expectCode(client.open(0, 1n, 1n), "replica_not_found");
        await assert.rejects(client.write(0, 1n, 1n, failing(6 * MiB), { timestamp: 1 }));
        assert.deepEqual(await client.list(0), []);

        await client.write(0, 2n, 2n, bytes("old"), { timestamp: 1 });
        await assert.rejects(client.write(0, 2n, 2n, failing(6 * MiB), { timestamp: 2 }));
        assert.equal(Buffer.from(await client.open(0, 2n, 2n)).toString(), "old");
        assert.deepEqual(ids(await client.list(0)), ["0:2-2"]);
      },
      { timeout: 120_000 },
    );

    withClient("every call fails with code aborted when the signal has fired", async ({ client }) => {
      await client.write(0, 1n, 1n, bytes("x"), { timestamp: 1 });
      const signal = AbortSignal.abort();
      await expectCode(client.list(0, { signal }), "aborted");
      await expectCode(client.open(0, 1n, 1n, { signal }), "aborted");
      await expectCode(client.write(0, 2n, 2n, bytes("y"), { timestamp: 1, signal }), "aborted");
      await expectCode(client.delete([{ level: 0, minTXID: 1n, maxTXID: 1n }], { signal }), "aborted");
      // Nothing happened.
      assert.deepEqual(ids(await client.list(0)), ["0:1-1"]);
    });

    withClient(
      "aborting during a streamed write fails with aborted and publishes nothing",
      async ({ client }) => {
        for (const size of [100_000, 7 * MiB]) {
          const ac = new AbortController();
          async function* body(): AsyncGenerator<Uint8Array> {
            yield pattern(size, 9);
            ac.abort();
            yield pattern(1000, 10);
          }
          await expectCode(client.write(0, 4n, 4n, body(), { timestamp: 1, signal: ac.signal }), "aborted");
          assert.deepEqual(await client.list(0), []);
        }
      },
      { timeout: 120_000 },
    );

    withClient("aborting during a listing with exact timestamps", async ({ client }) => {
      for (let i = 1n; i <= 20n; i++) await client.write(0, i, i, bytes("a"), { timestamp: 1 });
      const ac = new AbortController();
      const p = client.list(0, { exactTimestamps: true, signal: ac.signal });
      ac.abort();
      await expectCode(p, "aborted");
    });

    withClient("request counters count each kind", async (h) => {
      const { client } = h;
      for (const k of ["PUT", "GET", "LIST", "DELETE", "HEAD"] as const)
        assert.equal(typeof client.requests[k], "number");
      let before = { ...client.requests };
      await client.write(0, 1n, 1n, bytes("c"), { timestamp: 1 });
      assert.ok(delta(before, client.requests).PUT >= 1, "PUT counted");
      before = { ...client.requests };
      await client.list(0);
      assert.ok(delta(before, client.requests).LIST >= 1, "LIST counted");
      before = { ...client.requests };
      await client.open(0, 1n, 1n);
      assert.ok(delta(before, client.requests).GET >= 1, "GET counted");
      before = { ...client.requests };
      await client.list(0, { exactTimestamps: true });
      if (h.headsForExactTimestamps)
        assert.equal(delta(before, client.requests).HEAD, 1, "one HEAD per file");
      before = { ...client.requests };
      await client.delete([{ level: 0, minTXID: 1n, maxTXID: 1n }]);
      assert.ok(delta(before, client.requests).DELETE >= 1, "DELETE counted");
      before = { ...client.requests };
      await client.open(0, 1n, 1n).catch(() => {});
      assert.ok(delta(before, client.requests).GET >= 1, "failed requests are counted too");
    });

    withClient("many concurrent writes of distinct files all land", async ({ client }) => {
      const n = 40;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.write(0, BigInt(i + 1), BigInt(i + 1), pattern(2000 + i, i + 1), { timestamp: 1 }),
        ),
      );
      const l = await client.list(0);
      assert.equal(l.length, n);
      for (const [i, f] of l.entries()) assert.equal(f.size, 2000 + i);
      assert.deepEqual(await client.open(0, 17n, 17n), pattern(2016, 17));
    });

    withClient("concurrent writes of one name leave one whole version", async ({ client }) => {
      const versions = [pattern(50_000, 1), pattern(60_000, 2), pattern(70_000, 3)];
      await Promise.all(versions.map((v) => client.write(0, 6n, 6n, chunked(v, 4096), { timestamp: 1 })));
      const got = sha(await client.open(0, 6n, 6n));
      assert.ok(
        versions.some((v) => sha(v) === got),
        "the file is one of the written versions, not a mix",
      );
    });

    withClient("invalid levels and TXID ranges are rejected", async ({ client }) => {
      for (const level of [-1, 10, 1.5]) {
        await assert.rejects(client.list(level), (e: unknown) => isWalshipError(e));
        await assert.rejects(client.write(level, 1n, 1n, bytes("x"), { timestamp: 1 }), (e: unknown) =>
          isWalshipError(e),
        );
      }
      await assert.rejects(client.write(0, 5n, 4n, bytes("x"), { timestamp: 1 }), (e: unknown) =>
        isWalshipError(e),
      );
      await assert.rejects(client.write(0, -1n, 4n, bytes("x"), { timestamp: 1 }), (e: unknown) =>
        isWalshipError(e),
      );
      await assert.rejects(client.write(0, 1n, 1n << 64n, bytes("x"), { timestamp: 1 }), (e: unknown) =>
        isWalshipError(e),
      );
      assert.deepEqual(await client.list(0), []);
    });
  });
}
