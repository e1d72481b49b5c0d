/**
 * The real `litestream replicate` (v0.5.17) replicates; then `walship restore` and `litestream restore`
 * read the replica back (latest: equal to the source page for page and integrity_check ok; sampled TXIDs
 * with --txid: both tools produce the same file). Every shape on the file and S3 backends, plus the
 * config-less CLI form `litestream replicate <db> <url>` (1 s intervals) on each backend.
 */
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { tempDir } from "../helpers/db.js";
import { findPeers } from "../helpers/litestream.js";
import { openBackends, replicateShape, SHAPES } from "./harness.js";

const peers = findPeers();
const dir = tempDir("walship-interop-l-");
let bk: Awaited<ReturnType<typeof openBackends>>;

describe("interop: litestream writes, walship and litestream restore", () => {
  before(async () => {
    bk = await openBackends(dir);
  });
  after(async () => {
    await bk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const backend of ["file", "s3"] as const) {
    test(`litestream -> walship, ${backend}: config-less replicate <db> <url>, latest and --txid`, async (t) => {
      if ("skip" in peers) return t.skip(peers.skip);
      const b = bk[backend];
      if ("skip" in b) return t.skip(b.skip);
      await replicateShape("litestream", peers, b, SHAPES.grow4096, dir, { plain: true, txids: 5 });
    });
    for (const shape of Object.values(SHAPES)) {
      test(`litestream -> walship, ${backend}: ${shape.name}`, async (t) => {
        if ("skip" in peers) return t.skip(peers.skip);
        const b = bk[backend];
        if ("skip" in b) return t.skip(b.skip);
        await replicateShape("litestream", peers, b, shape, dir);
      });
    }
  }
});
