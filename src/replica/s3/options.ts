/**
 * Options and limits of the S3 replica client, shared by client.ts, transport.ts, objects.ts and
 * multipart.ts (client.ts re-exports the public ones, so importers keep using "s3/client.js").
 */

import { WalshipError } from "../../errors.js";
import type { SleepFn } from "../retry.js";
import type { Env } from "./credentials.js";

/** Litestream's metadata key for the LTX header timestamp (sent as x-amz-meta-litestream-timestamp). */
export const METADATA_KEY_TIMESTAMP = "litestream-timestamp";
export const DEFAULT_REGION = "us-east-1";
/** S3's minimum part size, and Litestream's default: files up to this size use one PutObject. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const DEFAULT_PART_SIZE = MIN_PART_SIZE;
/** S3's limit of parts per upload. */
export const MAX_PARTS = 10_000;
/** S3's limit of keys per DeleteObjects request. */
export const DELETE_BATCH = 1000;
/** Multipart parts uploading at once (memory: (concurrency + 1) x partSize). */
export const DEFAULT_PART_CONCURRENCY = 2;
/** HEAD requests in flight while listing with exactTimestamps. */
export const DEFAULT_HEAD_CONCURRENCY = 8;

/** The inner retry of each request; sleep/random are injectable for tests. */
export interface S3RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: SleepFn;
  random?: () => number;
}

export interface S3ClientOptions {
  bucket: string;
  /** Key prefix of the replica, without leading or trailing "/" (required, like Litestream's path). */
  path: string;
  /** Default: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1 (followed by redirect when no endpoint is set). */
  region?: string;
  /** "http://host:port" or "https://host"; unset = AWS. */
  endpoint?: string;
  /** Default: true when an endpoint is set, else false (virtual-hosted style on AWS). */
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Environment for credentials and region (default process.env). */
  env?: Env;
  /** Accept any TLS certificate (test servers only). */
  skipVerify?: boolean;
  /** Sign the SHA-256 of upload bodies (default true). false sends UNSIGNED-PAYLOAD for PUT bodies. */
  signPayload?: boolean;
  /** Send Content-MD5 with DeleteObjects (default true; Tigris wants false). */
  requireContentMD5?: boolean;
  /** x-amz-storage-class for uploads. */
  storageClass?: string;
  /** Multipart part size in bytes (default and minimum 5 MiB). */
  partSize?: number;
  /** Parts uploading at once (default DEFAULT_PART_CONCURRENCY). */
  concurrency?: number;
  /** HTTP sockets per protocol (default DEFAULT_MAX_SOCKETS). */
  maxSockets?: number;
  /** Inactivity timeout per request (default REQUEST_IDLE_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** Inner retry of each request; sleep/random are injectable for tests. */
  retry?: S3RetryOptions;
  headConcurrency?: number;
}

/** A "usage" error about the S3 configuration. */
export function usage(message: string, hint?: string): WalshipError {
  return new WalshipError("usage", message, { op: "replica.s3", hint });
}
