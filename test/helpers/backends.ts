/**
 * The replica backends end-to-end tests run against: a local directory, and a real S3-compatible server
 * (versitygw, installed by `npm run setup:peers`). Outside CI a missing server skips with its reason.
 */
import { join } from "node:path";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { type S3TestServer, startS3Server } from "./s3-server.js";

export interface Backend {
  name: "file" | "s3";
  /** Replica URL for the CLI, for one database's replica path. */
  url(path: string): string;
  client(path: string): ReplicaClient;
  /** Environment the CLI needs (credentials). */
  env: NodeJS.ProcessEnv;
  server?: S3TestServer;
  stop(): Promise<void>;
}

export function fileBackend(dir: string): Backend {
  return {
    name: "file",
    url: (p) => join(dir, p),
    client: (p) => new FileReplicaClient(join(dir, p)),
    env: {},
    stop: async () => {},
  };
}

export async function s3Backend(): Promise<Backend | { skip: string }> {
  const server = await startS3Server();
  if ("skip" in server) return server;
  return {
    name: "s3",
    url: (p) => server.url(p),
    client: (p) => new S3ReplicaClient(server.clientOptions(p)),
    env: { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey },
    server,
    stop: () => server.stop(),
  };
}
