/**
 * walship watch replicates; then `litestream restore` (v0.5.17) and `walship restore` read the replica back
 * (latest: equal to the source page for page and integrity_check ok; sampled TXIDs: both tools produce
 * the same file). Every shape on the file backend; the S3 backend (whose key layout differs) too.
 */
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { tempDir } from "../helpers/db.js";
import { findPeers } from "../helpers/litestream.js";
import { openBackends, replicateShape, SHAPES } from "./harness.js";

const peers = findPeers();
const dir = tempDir("walship-interop-w-");
let bk: Awaited<ReturnType<typeof openBackends>>;

describe("interop: walship writes, litestream and walship restore", () => {
  before(async () => {
    bk = await openBackends(dir);
  });
  after(async () => {
    await bk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const shape of Object.values(SHAPES)) {
    test(`walship -> litestream, file: ${shape.name}`, async (t) => {
      if ("skip" in peers) return t.skip(peers.skip);
      await replicateShape("walship", peers, bk.file, shape, dir);
    });
  }
  for (const shape of Object.values(SHAPES)) {
    test(`walship -> litestream, s3: ${shape.name}`, async (t) => {
      if ("skip" in peers) return t.skip(peers.skip);
      if ("skip" in bk.s3) return t.skip(bk.s3.skip);
      await replicateShape("walship", peers, bk.s3, shape, dir);
    });
  }
});
