/**
 * One compaction against a real replica: the output header is what Litestream writes (§6.5), the output
 * is streamed in bounded chunks rather than built in memory, local copies replace GETs, and a damaged
 * input leaves no output behind.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runCompaction } from "../../src/compaction/compact.js";
import { selectCompaction } from "../../src/compaction/select.js";
import { isWalshipError } from "../../src/errors.js";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { formatLtxFilename } from "../../src/ltx/filename.js";
import { HEADER_FLAG_NO_CHECKSUM } from "../../src/ltx/header.js";
import type { WriteBody } from "../../src/replica/client.js";
import { listAll } from "../../src/restore/plan.js";
import { restore } from "../../src/restore/restore.js";
import { fileContentHash } from "../helpers/db.js";
import { buildReplica } from "../verify/replica.js";

test("compacted file: NoChecksum, min of the first, max/commit/timestamp of the last, no WAL fields; restores the same", async () => {
  const r = await buildReplica(10);
  try {
    const levels = await listAll(r.client);
    const job = selectCompaction(levels, 1, 0, 1n, 64)!;
    const out = await runCompaction(r.client, job);
    assert.deepEqual([out.minTXID, out.maxTXID], [2n, r.txid]);
    const bytes = await r.client.open(1, out.minTXID, out.maxTXID);
    assert.equal(bytes.length, out.size);
    const d = await decodeLtx(bytes);
    const last = await decodeLtx(await r.client.open(0, r.txid, r.txid));
    const h = d.header;
    assert.equal(h.flags, HEADER_FLAG_NO_CHECKSUM);
    assert.equal(h.minTXID, 2n);
    assert.equal(h.maxTXID, r.txid);
    assert.equal(h.commit, last.header.commit);
    assert.equal(h.timestamp, last.header.timestamp);
    assert.equal(out.createdAt, Number(last.header.timestamp));
    assert.deepEqual(
      [h.preApplyChecksum, h.walOffset, h.walSize, h.walSalt1, h.walSalt2, h.nodeID],
      [0n, 0n, 0n, 0, 0, 0n],
    );
    assert.equal(d.trailer.postApplyChecksum, 0n);
    // Snapshot + the one compacted file restores what snapshot + every L0 file restores.
    const all = join(r.dir, "all.db");
    await restore(r.client, { output: all });
    for (const f of levels.get(0)!) rmSync(r.client.filePath(0, f.minTXID, f.maxTXID));
    const compacted = join(r.dir, "compacted.db");
    const res = await restore(r.client, { output: compacted });
    assert.equal(res.files.length, 2);
    assert.equal(fileContentHash(compacted), fileContentHash(all));
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("the output is streamed to the store in bounded chunks, and local copies replace GETs", async () => {
  const r = await buildReplica(12, { rowsPerBatch: 200 });
  try {
    const levels = await listAll(r.client);
    const job = selectCompaction(levels, 1, 0, 1n, 64)!;
    const local = join(r.dir, "staged");
    mkdirSync(local);
    for (const f of job.inputs) {
      copyFileSync(
        r.client.filePath(0, f.minTXID, f.maxTXID),
        join(local, formatLtxFilename(f.minTXID, f.maxTXID)),
      );
    }
    const chunks: number[] = [];
    const write = r.client.write.bind(r.client);
    r.client.write = async (level, min, max, data: WriteBody, opts) => {
      assert.ok(!(data instanceof Uint8Array), "a stream, not a buffer");
      async function* count(): AsyncGenerator<Uint8Array> {
        for await (const c of data as AsyncIterable<Uint8Array>) {
          chunks.push(c.length);
          yield c;
        }
      }
      return write(level, min, max, count(), opts);
    };
    const gets = r.client.requests.GET;
    const out = await runCompaction(r.client, job, {
      local: (level, min, max) => (level === 0 ? join(local, formatLtxFilename(min, max)) : null),
    });
    assert.equal(r.client.requests.GET, gets, "no input read from the store");
    assert.equal(out.localInputs, job.inputs.length);
    assert.ok(out.size > 1024 * 1024, `output ${out.size} bytes`);
    assert.ok(chunks.length > 4, `${chunks.length} chunks`);
    assert.ok(Math.max(...chunks) < 512 * 1024, `largest chunk ${Math.max(...chunks)}`);
    assert.equal(
      chunks.reduce((a, b) => a + b, 0),
      out.size,
    );
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("a damaged input fails the compaction and leaves no output file", async () => {
  const r = await buildReplica(10);
  try {
    const path = r.client.filePath(0, r.txid, r.txid);
    const b = readFileSync(path);
    b[b.length - 3]! ^= 0xff; // inside the file checksum: only noticed at the very end
    writeFileSync(path, b);
    const job = selectCompaction(await listAll(r.client), 1, 0, 1n, 64)!;
    await assert.rejects(runCompaction(r.client, job), (e) => isWalshipError(e, "ltx_checksum"));
    assert.deepEqual(await r.client.list(1), []);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});
