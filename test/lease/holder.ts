/**
 * A lease holder in its own process, for the "holder killed" cases: acquires the lease on the replica
 * given as a file path or an S3 JSON spec, prints "held <json>" and renews until killed.
 *   node --import tsx test/lease/holder.ts <dir> | '<s3 client options JSON>' [ttlMs]
 */
import { createLease, LeaseKeeper } from "../../src/lease/index.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";

const [target, ttlArg] = process.argv.slice(2);
if (!target) throw new Error("usage: holder.ts <dir|s3 json> [ttlMs]");
const client = target.startsWith("{")
  ? new S3ReplicaClient(JSON.parse(target))
  : new FileReplicaClient(target);
const lease = createLease(client, { ttlMs: Number(ttlArg ?? 30_000) });
await lease.acquire();
const keeper = new LeaseKeeper(lease, (e) => {
  process.stderr.write(`lost: ${e.message}\n`);
  process.exit(3);
});
keeper.start();
process.stdout.write(`held ${JSON.stringify(lease.holder)}\n`);
setInterval(() => {}, 1_000);
