/**
 * The start-up probe of conditional writes: versitygw honours If-None-Match and If-Match; a store that
 * ignores them (a small in-test S3 imitation that accepts every PUT) is reported so the CLI can warn.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { openLease } from "../../src/lease/index.js";
import { probeConditionalWrites } from "../../src/lease/s3-lease.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { startS3Server } from "../helpers/s3-server.js";

/** Path-style GET/PUT/DELETE of objects in memory; no auth, no conditions: the careless store. */
async function carelessS3(): Promise<{ endpoint: string; objects: Map<string, Buffer>; close(): void }> {
  const objects = new Map<string, Buffer>();
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const key = decodeURIComponent((req.url ?? "/").split("?")[0]!);
      if (req.method === "PUT") {
        objects.set(key, Buffer.concat(chunks));
        res.writeHead(200, { etag: `"${objects.size}-${Date.now()}"` }).end();
      } else if (req.method === "GET" && objects.has(key)) {
        res.writeHead(200, { etag: '"x"' }).end(objects.get(key));
      } else if (req.method === "DELETE") {
        objects.delete(key);
        res.writeHead(204).end();
      } else if (req.method === "POST") {
        res.writeHead(200).end("<DeleteResult></DeleteResult>");
      } else {
        res.writeHead(404).end("<Error><Code>NoSuchKey</Code></Error>");
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  return { endpoint: `http://127.0.0.1:${port}`, objects, close: () => srv.close() };
}

function client(endpoint: string, bucket = "b", path = "db"): S3ReplicaClient {
  return new S3ReplicaClient({
    bucket,
    path,
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    accessKeyId: "k",
    secretAccessKey: "secret-key-for-tests",
  });
}

const server = await startS3Server();

describe("conditional-write probe", () => {
  it("a store that ignores If-None-Match / If-Match is detected", async () => {
    const s = await carelessS3();
    const c = client(s.endpoint);
    try {
      const r = await probeConditionalWrites(c);
      assert.deepEqual(r, { ifNoneMatch: false, ifMatch: false, enforced: false });
      assert.equal([...s.objects.keys()].filter((k) => k.includes("probe")).length, 0, "probe removed");
      const { conditionalWrites } = await openLease(c);
      assert.equal(conditionalWrites.enforced, false);
    } finally {
      await c.close();
      s.close();
    }
  });

  if ("skip" in server) {
    it("versitygw enforces conditional writes", (t) => t.skip(server.skip));
    return;
  }
  const s3 = server;
  after(() => s3.stop());
  it("versitygw enforces conditional writes, and the probe leaves nothing behind", async () => {
    const c = new S3ReplicaClient(s3.clientOptions("probe/db"));
    try {
      const { conditionalWrites } = await openLease(c);
      assert.deepEqual(conditionalWrites, { ifNoneMatch: true, ifMatch: true, enforced: true });
      assert.deepEqual(await c.listObjects("probe/"), []);
    } finally {
      await c.close();
    }
  });
});
