/**
 * ReplicaClient for S3 and S3-compatible stores, over node:http/https with a SigV4 signer of our own (no
 * AWS SDK: it costs 20+ MiB of RSS at import; see perf/dependencies.md).
 *
 * Layout, exactly Litestream v0.5's (litestream-v05.md §7.1; ltx-format.md §7.3): no "ltx/" segment and
 * the level as four hex digits,
 *
 *   <path>/<level %04x>/<min %016x>-<max %016x>.ltx        e.g. db/0000/000000000000002a-000000000000002a.ltx
 *
 * with the header timestamp in `x-amz-meta-litestream-timestamp` (Go RFC3339Nano, UTC). Files up to one
 * part (5 MiB) go up in one PutObject, larger ones by multipart upload; DeleteObjects in batches of 1000
 * with Content-MD5. Requests are retried (withRetry) when the failure says a retry can help.
 *
 * Memory: a streamed write holds at most (concurrency + 1) parts (default 3 x 5 MiB); GETs hold the range
 * asked for; listings hold one page of XML at a time plus the result.
 *
 * This file maps the ReplicaClient contract onto S3; the pieces live beside it: transport.ts (endpoint,
 * agents, credentials, signing, retry, redaction), objects.ts (list/head/put/delete/create-bucket),
 * multipart.ts (uploads) and options.ts (options and limits).
 */

import { type ErrorContext, isWalshipError, throwIfAborted } from "../../errors.js";
import { formatLtxFilename, parseLtxFilename } from "../../ltx/filename.js";
import type {
  CallOptions,
  FileRef,
  ListOptions,
  LtxFileInfo,
  OpenOptions,
  ReplicaClient,
  RequestCounts,
  WriteBody,
  WriteOptions,
} from "../client.js";
import { checkFileRef, checkRange, checkTimestamp, compareLtxInfo } from "../refs.js";
import { mapLimit } from "../retry.js";
import { uploadObject } from "./multipart.js";
import {
  createBucket,
  deleteKeys,
  headObject,
  listObjects,
  putObject,
  type S3ObjectHead,
} from "./objects.js";
import {
  DEFAULT_HEAD_CONCURRENCY,
  DEFAULT_PART_CONCURRENCY,
  DEFAULT_PART_SIZE,
  METADATA_KEY_TIMESTAMP,
  MIN_PART_SIZE,
  type S3ClientOptions,
  usage,
} from "./options.js";
import { formatRfc3339Nano, parseRfc3339 } from "./rfc3339.js";
import { type RequestTarget, type S3Request, type S3Response, S3Transport } from "./transport.js";
import type { ListedObject } from "./xml.js";

export {
  DEFAULT_HEAD_CONCURRENCY,
  DEFAULT_PART_CONCURRENCY,
  DEFAULT_PART_SIZE,
  DEFAULT_REGION,
  DELETE_BATCH,
  METADATA_KEY_TIMESTAMP,
  MIN_PART_SIZE,
  type S3ClientOptions,
} from "./options.js";
export type { S3Request, S3Response } from "./transport.js";

export class S3ReplicaClient implements ReplicaClient {
  readonly type = "s3";
  readonly location: string;
  readonly requests: RequestCounts;
  readonly bucket: string;
  readonly path: string;
  readonly forcePathStyle: boolean;
  readonly partSize: number;
  private readonly opts: S3ClientOptions;
  private readonly transport: S3Transport;

  constructor(opts: S3ClientOptions) {
    this.opts = opts;
    if (!opts.bucket || /[/\s]/.test(opts.bucket)) {
      throw usage(`invalid S3 bucket name "${opts.bucket ?? ""}"`, "give the bucket, e.g. s3://bucket/db");
    }
    const path = (opts.path ?? "").replace(/^\/+|\/+$/g, "");
    if (path === "") {
      throw usage(
        `S3 replica s3://${opts.bucket} has no path`,
        "give the replica a path, e.g. s3://bucket/db (Litestream writes keys under it)",
      );
    }
    this.bucket = opts.bucket;
    this.path = path;
    this.location = `s3://${this.bucket}/${this.path}`;
    this.transport = new S3Transport(opts);
    this.requests = this.transport.requests;
    this.forcePathStyle = this.transport.forcePathStyle;
    const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw usage(`S3 part size ${partSize} is below the S3 minimum of 5 MiB`);
    }
    this.partSize = partSize;
  }

  /** May change once when AWS redirects to the bucket's region (only if no region was configured). */
  get region(): string {
    return this.transport.region;
  }

  set region(region: string) {
    this.transport.region = region;
  }

  /** Printable endpoint with no credentials. */
  get endpointUrl(): string {
    return this.transport.endpointUrl;
  }

  levelPrefix(level: number): string {
    return `${this.path}/${level.toString(16).padStart(4, "0")}/`;
  }

  objectKey(level: number, minTXID: bigint, maxTXID: bigint): string {
    return this.levelPrefix(level) + formatLtxFilename(minTXID, maxTXID);
  }

  // ---- ReplicaClient ------------------------------------------------------------------------------------

  async list(level: number, opts: ListOptions = {}): Promise<LtxFileInfo[]> {
    const op = "replica.list";
    checkFileRef(level, 0n, 0n, op);
    throwIfAborted(opts.signal, op);
    const prefix = this.levelPrefix(level);
    const from = opts.fromTXID ?? 0n;
    // Keys are fixed-width hex, so lexical order is numeric order: start-after "<prefix><from>" skips every
    // file with a smaller minTXID server-side. Stores that ignore start-after are still filtered below.
    const startAfter = from > 0n ? prefix + from.toString(16).padStart(16, "0") : undefined;
    const objects = await this.listObjects(prefix, {
      signal: opts.signal,
      startAfter,
      op,
      context: { level },
    });
    const infos: Array<LtxFileInfo & { key: string }> = [];
    for (const o of objects) {
      const name = o.key.slice(prefix.length);
      const ids = parseLtxFilename(name);
      if (!ids || ids.minTXID < from) continue;
      infos.push({
        level,
        minTXID: ids.minTXID,
        maxTXID: ids.maxTXID,
        size: o.size,
        createdAt: parseRfc3339(o.lastModified) ?? 0,
        key: o.key,
      });
    }
    let result: Array<LtxFileInfo & { key: string }> = infos;
    if (opts.exactTimestamps && infos.length > 0) {
      const heads = await mapLimit(
        infos,
        this.opts.headConcurrency ?? DEFAULT_HEAD_CONCURRENCY,
        async (info) => {
          try {
            const h = await this.headObject(info.key, { signal: opts.signal, op, context: { level } });
            const ts = h.metadata[METADATA_KEY_TIMESTAMP];
            const parsed = ts === undefined ? undefined : parseRfc3339(ts);
            return { ...info, createdAt: parsed ?? info.createdAt };
          } catch (e) {
            if (isWalshipError(e, "replica_not_found")) return undefined; // deleted since the listing
            throw e;
          }
        },
      );
      result = heads.filter((x): x is LtxFileInfo & { key: string } => x !== undefined);
    }
    result.sort(compareLtxInfo);
    return result.map(({ key: _key, ...info }) => info);
  }

  async open(level: number, minTXID: bigint, maxTXID: bigint, opts: OpenOptions = {}): Promise<Uint8Array> {
    const op = "replica.open";
    checkFileRef(level, minTXID, maxTXID, op);
    const offset = opts.offset ?? 0;
    checkRange(offset, opts.length, op);
    throwIfAborted(opts.signal, op);
    const key = this.objectKey(level, minTXID, maxTXID);
    const context = { level, minTXID, maxTXID };
    if (opts.length === 0) {
      await this.headObject(key, { signal: opts.signal, op, context });
      return new Uint8Array(0);
    }
    const ranged = offset > 0 || opts.length !== undefined;
    const headers: Record<string, string> = {};
    if (ranged)
      headers.range = `bytes=${offset}-${opts.length !== undefined ? offset + opts.length - 1 : ""}`;
    let res: S3Response;
    try {
      res = await this.send({ kind: "GET", op, method: "GET", key, headers, signal: opts.signal, context });
    } catch (e) {
      // 416: the range starts at or past the end; the contract returns what exists, i.e. nothing.
      if (isWalshipError(e) && e.context.status === 416) return new Uint8Array(0);
      throw e;
    }
    if (ranged && res.status === 200) {
      // The server ignored Range and sent the whole object.
      const end =
        opts.length === undefined ? res.body.length : Math.min(res.body.length, offset + opts.length);
      return offset >= end ? new Uint8Array(0) : res.body.slice(offset, end);
    }
    return res.body;
  }

  async write(
    level: number,
    minTXID: bigint,
    maxTXID: bigint,
    data: WriteBody,
    opts: WriteOptions,
  ): Promise<void> {
    const op = "replica.write";
    checkFileRef(level, minTXID, maxTXID, op);
    checkTimestamp(opts.timestamp, op);
    throwIfAborted(opts.signal, op);
    const key = this.objectKey(level, minTXID, maxTXID);
    const context = { level, minTXID, maxTXID };
    const headers: Record<string, string> = {
      [`x-amz-meta-${METADATA_KEY_TIMESTAMP}`]: formatRfc3339Nano(opts.timestamp),
    };
    if (this.opts.storageClass) headers["x-amz-storage-class"] = this.opts.storageClass;
    await uploadObject(this.transport, key, data, {
      headers,
      partSize: this.partSize,
      concurrency: this.opts.concurrency ?? DEFAULT_PART_CONCURRENCY,
      signal: opts.signal,
      context,
    });
  }

  async delete(files: FileRef[], opts: CallOptions = {}): Promise<void> {
    const op = "replica.delete";
    for (const f of files) checkFileRef(f.level, f.minTXID, f.maxTXID, op);
    throwIfAborted(opts.signal, op);
    const keys = [...new Set(files.map((f) => this.objectKey(f.level, f.minTXID, f.maxTXID)))];
    await this.deleteKeys(keys, { signal: opts.signal, op });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  // ---- S3 operations (public for tools and tests) ------------------------------------------------------

  /** Every object under prefix (all pages of ListObjectsV2). */
  listObjects(
    prefix: string,
    o: { signal?: AbortSignal; startAfter?: string; op?: string; context?: ErrorContext } = {},
  ): Promise<ListedObject[]> {
    return listObjects(this.transport, prefix, o);
  }

  headObject(
    key: string,
    o: { signal?: AbortSignal; op?: string; context?: ErrorContext } = {},
  ): Promise<S3ObjectHead> {
    return headObject(this.transport, key, o);
  }

  /** PutObject of an in-memory body, payload signed. */
  putObject(
    key: string,
    body: Uint8Array,
    o: { headers?: Record<string, string>; signal?: AbortSignal; op?: string; context?: ErrorContext } = {},
  ): Promise<void> {
    return putObject(this.transport, key, body, o);
  }

  /** DeleteObjects in batches of 1000; keys that do not exist are not an error. */
  deleteKeys(keys: readonly string[], o: { signal?: AbortSignal; op?: string } = {}): Promise<void> {
    return deleteKeys(this.transport, keys, { ...o, contentMD5: this.opts.requireContentMD5 !== false });
  }

  /** CreateBucket; an existing bucket owned by these credentials is fine. For tests and setup tools. */
  createBucket(o: { signal?: AbortSignal } = {}): Promise<void> {
    return createBucket(this.transport, o);
  }

  /** Where a request for key goes: host header, path (encoded), connection host and port. */
  requestTarget(key: string | undefined): RequestTarget {
    return this.transport.requestTarget(key);
  }

  /**
   * Signs and sends one S3 request with the inner retry, and follows AWS to the bucket's region once when
   * no region was configured. Counts every attempt in `requests`.
   */
  send(req: S3Request): Promise<S3Response> {
    return this.transport.send(req);
  }
}
