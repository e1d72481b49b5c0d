/**
 * Applies <image> over <db> in place and kills itself with SIGKILL at <stage>, leaving whatever the apply
 * had on disk at that moment (for apply.test.ts).
 *   node --import tsx apply-crash-child.ts <db> <image> journaled|written
 */
import { LocalDb } from "../../src/follow/local-db.js";
import { diffImage } from "../../src/follow/stage.js";

const [db, image, stage] = process.argv.slice(2);
const local = await LocalDb.open(db!, { lockTimeoutMs: 1000 });
const set = await diffImage(local, image!);
await local.apply(set, { prepare: async () => {}, publish: async () => {} }, (s) => {
  if (s === stage) process.kill(process.pid, "SIGKILL");
});
process.stderr.write("apply finished without being killed\n");
