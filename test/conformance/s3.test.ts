/** The ReplicaClient conformance suite against S3ReplicaClient on a real S3 server (versitygw). */

import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { DELETE_BATCH, MIN_PART_SIZE, S3ReplicaClient } from "../../src/replica/s3/client.js";
import { startS3Server } from "../helpers/s3-server.js";
import { runReplicaClientConformance } from "./replica-client.suite.js";

const server = await startS3Server();

if ("skip" in server) {
  describe("ReplicaClient conformance: s3 (versitygw)", () => {
    it("needs versitygw", (t) => t.skip(server.skip));
  });
} else {
  describe("s3 on versitygw", () => {
    after(() => server.stop());
    runReplicaClientConformance("s3 (versitygw)", async () => {
      // A fresh path per test in the shared bucket: an empty replica every time.
      const path = `conformance/${randomBytes(6).toString("hex")}`;
      const client = new S3ReplicaClient(server.clientOptions(path));
      return {
        client,
        cleanup: async () => {},
        putRaw: (level: number, name: string, data: Uint8Array) =>
          client.putObject(client.levelPrefix(level) + name, data),
        secrets: [server.secretAccessKey],
        partSize: MIN_PART_SIZE,
        headsForExactTimestamps: true,
        deleteBatch: DELETE_BATCH,
      };
    });
  });
}
