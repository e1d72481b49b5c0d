/** The two lease backends the lease tests run against: a directory and a real S3 server (versitygw). */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Clock } from "../../src/clock.js";
import { FileLeaseStore } from "../../src/lease/file-lease.js";
import type { LeaseStore } from "../../src/lease/lease.js";
import { S3LeaseStore } from "../../src/lease/s3-lease.js";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import type { S3TestServer } from "../helpers/s3-server.js";

export interface LeaseBackend {
  name: "file" | "s3";
  /** A fresh replica path per call. */
  fresh(): { client: ReplicaClient; store: LeaseStore; target: string };
}

export function fileLeaseBackend(dir: string): LeaseBackend {
  return {
    name: "file",
    fresh() {
      const root = join(dir, randomBytes(5).toString("hex"));
      return { client: new FileReplicaClient(root), store: new FileLeaseStore(root), target: root };
    },
  };
}

export function s3LeaseBackend(server: S3TestServer): LeaseBackend {
  return {
    name: "s3",
    fresh() {
      const opts = server.clientOptions(`lease/${randomBytes(5).toString("hex")}`);
      const client = new S3ReplicaClient(opts);
      return { client, store: new S3LeaseStore(client), target: JSON.stringify(opts) };
    },
  };
}

/** A clock the test moves by hand; sleep advances it instead of waiting. */
export class ManualClock implements Clock {
  constructor(public t = Date.now()) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}
