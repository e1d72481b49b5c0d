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
 */

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { rootCertificates } from "node:tls";
import { abortError, type ErrorContext, isWalshipError, throwIfAborted, WalshipError } from "../../errors.js";
import {
  type CallOptions,
  emptyRequestCounts,
  type FileRef,
  type ListOptions,
  type LtxFileInfo,
  type OpenOptions,
  type ReplicaClient,
  type RequestCounts,
  type RequestKind,
  type WriteBody,
  type WriteOptions,
} from "../client.js";
import {
  checkFileRef,
  checkRange,
  checkTimestamp,
  compareLtxInfo,
  formatLtxFilename,
  parseLtxFilename,
} from "../file.js";
import { DEFAULT_RETRY_ATTEMPTS, mapLimit, type SleepFn, withRetry } from "../retry.js";
import { type Env, type ResolvedCredentials, resolveCredentials } from "./credentials.js";
import {
  classifyHttpError,
  classifyNetworkError,
  DEFAULT_MAX_SOCKETS,
  exchange,
  type HttpResult,
  makeAgents,
  REQUEST_IDLE_TIMEOUT_MS,
  type RequestDescription,
} from "./http.js";
import { formatRfc3339Nano, parseRfc3339 } from "./rfc3339.js";
import {
  EMPTY_PAYLOAD_SHA256,
  encodeS3Path,
  SigningKeyCache,
  sha256Hex,
  signRequest,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "./signer.js";
import {
  completeMultipartXml,
  deleteObjectsXml,
  type ListedObject,
  parseDeleteResult,
  parseErrorBody,
  parseListObjectsV2,
  xmlText,
} from "./xml.js";

/** Litestream's metadata key for the LTX header timestamp (sent as x-amz-meta-litestream-timestamp). */
export const METADATA_KEY_TIMESTAMP = "litestream-timestamp";
export const DEFAULT_REGION = "us-east-1";
/** S3's minimum part size, and Litestream's default: files up to this size use one PutObject. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const DEFAULT_PART_SIZE = MIN_PART_SIZE;
/** S3's limit of parts per upload. */
const MAX_PARTS = 10_000;
/** S3's limit of keys per DeleteObjects request. */
export const DELETE_BATCH = 1000;
/** Multipart parts uploading at once (memory: (concurrency + 1) x partSize). */
export const DEFAULT_PART_CONCURRENCY = 2;
/** HEAD requests in flight while listing with exactTimestamps. */
export const DEFAULT_HEAD_CONCURRENCY = 8;

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
  retry?: {
    attempts?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
    sleep?: SleepFn;
    random?: () => number;
  };
  headConcurrency?: number;
}

/** One S3 API call, before signing. */
export interface S3Request {
  kind: RequestKind;
  op: string;
  method: "GET" | "PUT" | "POST" | "DELETE" | "HEAD";
  /** Object key; undefined for a bucket-level request. */
  key?: string;
  query?: Array<[string, string]>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Precomputed body SHA-256 (hex), so retries do not hash again. */
  payloadHash?: string;
  signal?: AbortSignal;
  context?: ErrorContext;
  /** Do not retry (the caller handles failures itself). */
  noRetry?: boolean;
}

export interface S3Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

interface Part {
  bytes: Uint8Array;
  last: boolean;
}

function usage(message: string, hint?: string): WalshipError {
  return new WalshipError("usage", message, { op: "replica.s3", hint });
}

/** Splits an async byte stream into parts of exactly partSize; the last part may be shorter (or equal). */
async function* streamParts(src: AsyncIterable<Uint8Array>, partSize: number): AsyncGenerator<Part> {
  let buf = new Uint8Array(partSize);
  let fill = 0;
  for await (const chunk of src) {
    let off = 0;
    while (off < chunk.length) {
      if (fill === partSize) {
        // Only now is it known that more follows, so this part is not the last.
        yield { bytes: buf, last: false };
        buf = new Uint8Array(partSize);
        fill = 0;
      }
      const n = Math.min(partSize - fill, chunk.length - off);
      buf.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
    }
  }
  yield { bytes: buf.subarray(0, fill), last: true };
}

function* bufferParts(data: Uint8Array, partSize: number): Generator<Part> {
  for (let off = 0; off < data.length; off += partSize) {
    const end = Math.min(data.length, off + partSize);
    yield { bytes: data.subarray(off, end), last: end === data.length };
  }
}

async function* prepend<T>(first: T, rest: AsyncIterator<T>): AsyncGenerator<T> {
  yield first;
  while (true) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

export class S3ReplicaClient implements ReplicaClient {
  readonly type = "s3";
  readonly location: string;
  readonly requests: RequestCounts = emptyRequestCounts();
  readonly bucket: string;
  readonly path: string;
  /** May change once when AWS redirects to the bucket's region (only if no region was configured). */
  region: string;
  readonly forcePathStyle: boolean;
  readonly partSize: number;
  private readonly autoRegion: boolean;
  private readonly endpoint:
    | { protocol: "http:" | "https:"; hostname: string; port: number | undefined }
    | undefined;
  private readonly opts: S3ClientOptions;
  private agents: ReturnType<typeof makeAgents> | undefined;
  private agentsPromise: Promise<ReturnType<typeof makeAgents>> | undefined;
  private readonly keyCache = new SigningKeyCache();
  private credsPromise: Promise<ResolvedCredentials> | undefined;
  private secrets: string[] = [];

  constructor(opts: S3ClientOptions) {
    this.opts = opts;
    const env = opts.env ?? process.env;
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
    if (opts.endpoint) {
      let u: URL;
      try {
        u = new URL(opts.endpoint.includes("://") ? opts.endpoint : `https://${opts.endpoint}`);
      } catch {
        throw usage(
          `invalid S3 endpoint "${opts.endpoint}"`,
          "use e.g. http://127.0.0.1:9000 or https://s3.example.com",
        );
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") {
        throw usage(`S3 endpoint must be http:// or https://, got ${u.protocol}`);
      }
      if (u.username || u.password) {
        throw usage(
          "S3 endpoint must not contain credentials",
          "use access-key-id / secret-access-key or the environment",
        );
      }
      if (u.pathname !== "/" && u.pathname !== "") {
        throw usage(`S3 endpoint must not have a path (${u.pathname})`, "use just scheme://host:port");
      }
      this.endpoint = {
        protocol: u.protocol,
        hostname: u.hostname.replace(/^\[|\]$/g, ""),
        port: u.port ? Number(u.port) : undefined,
      };
    }
    this.region =
      opts.region ||
      (opts.endpoint ? DEFAULT_REGION : env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION);
    this.autoRegion = !opts.region && !opts.endpoint && !env.AWS_REGION && !env.AWS_DEFAULT_REGION;
    this.forcePathStyle = opts.forcePathStyle ?? opts.endpoint !== undefined;
    const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw usage(`S3 part size ${partSize} is below the S3 minimum of 5 MiB`);
    }
    this.partSize = partSize;
    if (opts.secretAccessKey) this.secrets.push(opts.secretAccessKey);
    if (opts.sessionToken) this.secrets.push(opts.sessionToken);
  }

  /** Printable endpoint with no credentials. */
  get endpointUrl(): string {
    if (this.endpoint) {
      const host = this.endpoint.hostname.includes(":")
        ? `[${this.endpoint.hostname}]`
        : this.endpoint.hostname;
      return `${this.endpoint.protocol}//${host}${this.endpoint.port ? `:${this.endpoint.port}` : ""}`;
    }
    return `https://s3.${this.region}.amazonaws.com`;
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
    if (data instanceof Uint8Array) {
      if (data.length <= this.partSize) {
        await this.putObject(key, data, { headers, signal: opts.signal, op, context });
        return;
      }
      await this.multipartUpload(key, bufferParts(data, this.partSize), headers, opts.signal, context);
      return;
    }
    const parts = streamParts(data, this.partSize);
    let first: IteratorResult<Part>;
    try {
      first = await parts.next();
    } catch (e) {
      throw this.bodyError(e, op, key, context, opts.signal);
    }
    if (first.done || first.value.last) {
      await parts.return(undefined);
      const bytes = first.done ? new Uint8Array(0) : first.value.bytes;
      await this.putObject(key, bytes, { headers, signal: opts.signal, op, context });
      return;
    }
    await this.multipartUpload(key, prepend(first.value, parts), headers, opts.signal, context);
  }

  async delete(files: FileRef[], opts: CallOptions = {}): Promise<void> {
    const op = "replica.delete";
    for (const f of files) checkFileRef(f.level, f.minTXID, f.maxTXID, op);
    throwIfAborted(opts.signal, op);
    const keys = [...new Set(files.map((f) => this.objectKey(f.level, f.minTXID, f.maxTXID)))];
    await this.deleteKeys(keys, { signal: opts.signal, op });
  }

  async close(): Promise<void> {
    const agents = this.agents ?? (await this.agentsPromise?.catch(() => undefined));
    agents?.http.destroy();
    agents?.https.destroy();
    this.agents = undefined;
    this.agentsPromise = undefined;
  }

  // ---- S3 operations (public for tools and tests) ------------------------------------------------------

  /** Every object under prefix (all pages of ListObjectsV2). */
  async listObjects(
    prefix: string,
    o: { signal?: AbortSignal; startAfter?: string; op?: string; context?: ErrorContext } = {},
  ): Promise<ListedObject[]> {
    const op = o.op ?? "s3.list";
    const out: ListedObject[] = [];
    let token: string | undefined;
    for (let page = 0; ; page++) {
      const query: Array<[string, string]> = [
        ["list-type", "2"],
        ["prefix", prefix],
      ];
      if (token !== undefined) query.push(["continuation-token", token]);
      else if (o.startAfter !== undefined) query.push(["start-after", o.startAfter]);
      const res = await this.send({
        kind: "LIST",
        op,
        method: "GET",
        query,
        signal: o.signal,
        context: o.context,
      });
      const parsed = parseListObjectsV2(Buffer.from(res.body).toString("utf8"));
      for (const obj of parsed.objects) out.push(obj);
      if (!parsed.isTruncated) return out;
      if (!parsed.nextContinuationToken || parsed.nextContinuationToken === token) {
        throw new WalshipError(
          "storage",
          `S3 listing of s3://${this.bucket}/${prefix} is truncated without a continuation token`,
          {
            op,
            context: { ...o.context, bucket: this.bucket, key: prefix, page },
          },
        );
      }
      token = parsed.nextContinuationToken;
    }
  }

  async headObject(
    key: string,
    o: { signal?: AbortSignal; op?: string; context?: ErrorContext } = {},
  ): Promise<{ size: number; lastModified: number | undefined; metadata: Record<string, string> }> {
    const res = await this.send({
      kind: "HEAD",
      op: o.op ?? "s3.head",
      method: "HEAD",
      key,
      signal: o.signal,
      context: o.context,
    });
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (name.startsWith("x-amz-meta-") && value !== undefined) {
        metadata[name.slice("x-amz-meta-".length)] = Array.isArray(value) ? value.join(",") : value;
      }
    }
    const lm = res.headers["last-modified"];
    return {
      size: Number(res.headers["content-length"] ?? 0),
      lastModified: lm ? Date.parse(lm) : undefined,
      metadata,
    };
  }

  /** PutObject of an in-memory body, payload signed. */
  async putObject(
    key: string,
    body: Uint8Array,
    o: { headers?: Record<string, string>; signal?: AbortSignal; op?: string; context?: ErrorContext } = {},
  ): Promise<void> {
    await this.send({
      kind: "PUT",
      op: o.op ?? "s3.put",
      method: "PUT",
      key,
      headers: o.headers,
      body,
      payloadHash: this.bodyHash(body),
      signal: o.signal,
      context: o.context,
    });
  }

  /** DeleteObjects in batches of 1000; keys that do not exist are not an error. */
  async deleteKeys(keys: readonly string[], o: { signal?: AbortSignal; op?: string } = {}): Promise<void> {
    const op = o.op ?? "s3.delete";
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      throwIfAborted(o.signal, op);
      const batch = keys.slice(i, i + DELETE_BATCH);
      const body = Buffer.from(deleteObjectsXml(batch), "utf8");
      const headers: Record<string, string> = { "content-type": "application/xml" };
      if (this.opts.requireContentMD5 !== false) {
        headers["content-md5"] = createHash("md5").update(body).digest("base64");
      }
      const res = await this.send({
        kind: "DELETE",
        op,
        method: "POST",
        query: [["delete", ""]],
        headers,
        body,
        payloadHash: sha256Hex(body),
        signal: o.signal,
        context: { batch: i / DELETE_BATCH, keys: batch.length },
      });
      const errors = parseDeleteResult(Buffer.from(res.body).toString("utf8")).filter(
        (e) => e.code !== "NoSuchKey",
      );
      if (errors.length > 0) {
        const e0 = errors[0]!;
        throw new WalshipError(
          e0.code === "AccessDenied" ? "storage_auth" : "storage",
          `S3 DeleteObjects on s3://${this.bucket}: ${errors.length} of ${batch.length} keys failed, first ${e0.key}: ${e0.code} ${this.redact(e0.message)}`,
          { op, context: { bucket: this.bucket, key: e0.key, s3Code: e0.code } },
        );
      }
    }
  }

  /** CreateBucket; an existing bucket owned by these credentials is fine. For tests and setup tools. */
  async createBucket(o: { signal?: AbortSignal } = {}): Promise<void> {
    const body =
      this.region === DEFAULT_REGION
        ? undefined
        : Buffer.from(
            `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${this.region}</LocationConstraint></CreateBucketConfiguration>`,
          );
    try {
      await this.send({
        kind: "PUT",
        op: "s3.create_bucket",
        method: "PUT",
        body,
        payloadHash: body ? sha256Hex(body) : EMPTY_PAYLOAD_SHA256,
        signal: o.signal,
      });
    } catch (e) {
      if (isWalshipError(e) && e.context.s3Code === "BucketAlreadyOwnedByYou") return;
      throw e;
    }
  }

  // ---- multipart -----------------------------------------------------------------------------------------

  private async multipartUpload(
    key: string,
    parts: Iterable<Part> | AsyncIterable<Part>,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    context: ErrorContext,
  ): Promise<void> {
    const op = "replica.write";
    const created = await this.send({
      kind: "PUT",
      op,
      method: "POST",
      key,
      query: [["uploads", ""]],
      headers,
      signal,
      context,
    });
    const uploadId = xmlText(Buffer.from(created.body).toString("utf8"), "UploadId");
    if (!uploadId) {
      throw new WalshipError("storage", `S3 CreateMultipartUpload for ${key} returned no UploadId`, {
        op,
        context: { ...context, bucket: this.bucket, key },
      });
    }
    const done: Array<{ partNumber: number; etag: string }> = [];
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    let total = 0;
    let partNumber = 0;
    try {
      try {
        for await (const part of parts) {
          if (failure !== undefined) throw failure;
          throwIfAborted(signal, op);
          partNumber++;
          if (partNumber > MAX_PARTS) {
            throw new WalshipError(
              "storage",
              `file too large for ${MAX_PARTS} parts of ${this.partSize} bytes`,
              {
                op,
                context: { ...context, key },
                hint: "raise the part size",
              },
            );
          }
          total += part.bytes.length;
          const n = partNumber;
          const task = this.uploadPart(key, uploadId, n, part.bytes, signal, context).then((etag) => {
            done.push({ partNumber: n, etag });
          });
          const tracked: Promise<void> = task.then(
            () => {
              inflight.delete(tracked);
            },
            (e: unknown) => {
              inflight.delete(tracked);
              failure ??= e;
            },
          );
          inflight.add(tracked);
          if (inflight.size >= (this.opts.concurrency ?? DEFAULT_PART_CONCURRENCY))
            await Promise.race(inflight);
        }
      } catch (e) {
        throw isWalshipError(e) ? e : this.bodyError(e, op, key, context, signal);
      }
      await Promise.all(inflight);
      if (failure !== undefined) throw failure;
      throwIfAborted(signal, op);
      done.sort((a, b) => a.partNumber - b.partNumber);
      await this.completeMultipart(key, uploadId, done, total, signal, context);
    } catch (e) {
      await Promise.allSettled([...inflight]);
      await this.abortMultipart(key, uploadId, context);
      throw e;
    }
  }

  private async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    bytes: Uint8Array,
    signal: AbortSignal | undefined,
    context: ErrorContext,
  ): Promise<string> {
    const res = await this.send({
      kind: "PUT",
      op: "replica.write",
      method: "PUT",
      key,
      query: [
        ["partNumber", String(partNumber)],
        ["uploadId", uploadId],
      ],
      body: bytes,
      payloadHash: this.bodyHash(bytes),
      signal,
      context: { ...context, partNumber },
    });
    const etag = res.headers.etag;
    if (typeof etag !== "string" || etag === "") {
      throw new WalshipError("storage", `S3 UploadPart ${partNumber} of ${key} returned no ETag`, {
        op: "replica.write",
        context: { ...context, key, partNumber },
      });
    }
    return etag;
  }

  private async completeMultipart(
    key: string,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>,
    total: number,
    signal: AbortSignal | undefined,
    context: ErrorContext,
  ): Promise<void> {
    const op = "replica.write";
    const body = Buffer.from(completeMultipartXml(parts), "utf8");
    const payloadHash = sha256Hex(body);
    const r = this.opts.retry ?? {};
    await withRetry(
      async (attempt) => {
        try {
          const res = await this.send({
            kind: "PUT",
            op,
            method: "POST",
            key,
            query: [["uploadId", uploadId]],
            headers: { "content-type": "application/xml" },
            body,
            payloadHash,
            signal,
            context,
            noRetry: true,
          });
          // CompleteMultipartUpload can fail with HTTP 200 and an <Error> document.
          const text = Buffer.from(res.body).toString("utf8");
          if (/<Error[\s>]/.test(text)) {
            const err = parseErrorBody(text);
            throw classifyHttpError(
              { status: 200, code: err.code, message: err.message, bucketRegion: undefined },
              this.describe({ kind: "PUT", op, method: "POST", key, context }),
              (s) => this.redact(s),
            );
          }
        } catch (e) {
          // A retry after a lost response: the upload may already be complete.
          if (attempt > 1 && isWalshipError(e) && e.context.s3Code === "NoSuchUpload") {
            const h = await this.headObject(key, { signal, op, context }).catch(() => undefined);
            if (h && h.size === total) return;
          }
          throw e;
        }
      },
      { attempts: r.attempts ?? DEFAULT_RETRY_ATTEMPTS, ...r, signal, op },
    );
  }

  private async abortMultipart(key: string, uploadId: string, context: ErrorContext): Promise<void> {
    // Best effort and deliberately without the caller's signal (it may be what failed the upload).
    await this.send({
      kind: "DELETE",
      op: "replica.write.abort",
      method: "DELETE",
      key,
      query: [["uploadId", uploadId]],
      context,
    }).catch(() => {});
  }

  // ---- transport -----------------------------------------------------------------------------------------

  private bodyHash(body: Uint8Array): string {
    return this.opts.signPayload === false ? UNSIGNED_PAYLOAD : sha256Hex(body);
  }

  private bodyError(
    e: unknown,
    op: string,
    key: string,
    context: ErrorContext,
    signal: AbortSignal | undefined,
  ): WalshipError {
    if (signal?.aborted) return abortError(op);
    if (isWalshipError(e)) return e;
    const msg = e instanceof Error ? e.message : String(e);
    return new WalshipError("internal", `reading the body to upload to ${key} failed: ${msg}`, {
      op,
      context: { ...context, key },
      cause: e,
    });
  }

  /**
   * The keep-alive agents, made on first use. AWS_CA_BUNDLE (a PEM file, as the AWS SDKs honour it) adds
   * CAs to Node's built-in roots for https endpoints.
   */
  private getAgents(): Promise<ReturnType<typeof makeAgents>> {
    if (!this.agentsPromise) {
      this.agentsPromise = (async () => {
        const env = this.opts.env ?? process.env;
        let ca: string[] | undefined;
        const bundle = env.AWS_CA_BUNDLE;
        if (bundle && this.endpoint?.protocol !== "http:") {
          try {
            ca = [...rootCertificates, await readFile(bundle, "utf8")];
          } catch (e) {
            throw new WalshipError("config", `cannot read AWS_CA_BUNDLE ${bundle}`, {
              op: "s3.tls",
              context: { path: bundle },
              hint: "point AWS_CA_BUNDLE at a PEM file or unset it",
              cause: e,
            });
          }
        }
        this.agents = makeAgents({
          maxSockets: this.opts.maxSockets ?? DEFAULT_MAX_SOCKETS,
          rejectUnauthorized: !this.opts.skipVerify,
          ca,
        });
        return this.agents;
      })();
      this.agentsPromise.catch(() => {
        this.agentsPromise = undefined;
      });
    }
    return this.agentsPromise;
  }

  private credentials(): Promise<ResolvedCredentials> {
    if (!this.credsPromise) {
      this.credsPromise = resolveCredentials({
        accessKeyId: this.opts.accessKeyId,
        secretAccessKey: this.opts.secretAccessKey,
        sessionToken: this.opts.sessionToken,
        env: this.opts.env,
      }).then((c) => {
        this.secrets.push(c.secretAccessKey);
        if (c.sessionToken) this.secrets.push(c.sessionToken);
        return c;
      });
      this.credsPromise.catch(() => {
        this.credsPromise = undefined; // try again next call (e.g. after the file appears)
      });
    }
    return this.credsPromise;
  }

  /** Removes every known secret from text that came from a server. */
  private redact(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
    return out;
  }

  /** Where a request for key goes: host header, path (encoded), connection host and port. */
  requestTarget(key: string | undefined): {
    protocol: "http:" | "https:";
    hostname: string;
    port: number | undefined;
    host: string;
    path: string;
  } {
    const base = this.endpoint ?? {
      protocol: "https:" as const,
      hostname: `s3.${this.region}.amazonaws.com`,
      port: undefined,
    };
    const defaultPort = base.protocol === "https:" ? 443 : 80;
    const port = base.port === defaultPort ? undefined : base.port;
    const encodedKey = key === undefined ? "" : encodeS3Path(key);
    let hostname = base.hostname;
    let path: string;
    if (this.forcePathStyle) {
      path = `/${uriEncode(this.bucket)}${key === undefined ? "" : `/${encodedKey}`}`;
    } else {
      hostname = `${this.bucket}.${hostname}`;
      path = `/${encodedKey}`;
    }
    const hostForHeader = hostname.includes(":") ? `[${hostname}]` : hostname;
    return {
      protocol: base.protocol,
      hostname,
      port,
      host: port ? `${hostForHeader}:${port}` : hostForHeader,
      path,
    };
  }

  private describe(req: S3Request): RequestDescription {
    return {
      op: req.op,
      method: req.method,
      target: `s3://${this.bucket}${req.key === undefined ? "" : `/${req.key}`}`,
      endpoint: this.endpointUrl,
      bucket: this.bucket,
      key: req.key,
      context: req.context,
      signal: req.signal,
    };
  }

  /** One signed attempt; throws a classified WalshipError for any failure or non-2xx status. */
  private async sendOnce(req: S3Request, creds: ResolvedCredentials): Promise<S3Response> {
    throwIfAborted(req.signal, req.op);
    const t = this.requestTarget(req.key);
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined || req.method === "PUT" || req.method === "POST") {
      headers["content-length"] = String(req.body?.length ?? 0);
    }
    const payloadHash =
      req.payloadHash ?? (req.body && req.body.length > 0 ? this.bodyHash(req.body) : EMPTY_PAYLOAD_SHA256);
    const signed = signRequest(
      {
        method: req.method,
        host: t.host,
        path: t.path,
        query: req.query,
        headers,
        payloadHash,
        region: this.region,
      },
      creds,
      this.keyCache,
    );
    const d = this.describe(req);
    const agents = this.agents ?? (await this.getAgents());
    this.requests[req.kind]++;
    let res: HttpResult;
    try {
      res = await exchange(agents, {
        protocol: t.protocol,
        hostname: t.hostname,
        port: t.port,
        method: req.method,
        path: signed.query ? `${t.path}?${signed.query}` : t.path,
        headers: signed.headers,
        body: req.body,
        signal: req.signal,
        timeoutMs: this.opts.requestTimeoutMs ?? REQUEST_IDLE_TIMEOUT_MS,
      });
    } catch (e) {
      throw classifyNetworkError(e, d);
    }
    if (res.status >= 200 && res.status < 300) return res;
    const parsed = res.body.length > 0 ? parseErrorBody(Buffer.from(res.body).toString("utf8")) : undefined;
    const regionHeader = res.headers["x-amz-bucket-region"];
    throw classifyHttpError(
      {
        status: res.status,
        code: parsed?.code,
        message: parsed?.message,
        bucketRegion: (typeof regionHeader === "string" ? regionHeader : undefined) ?? parsed?.region,
      },
      d,
      (s) => this.redact(s),
    );
  }

  /**
   * Signs and sends one S3 request with the inner retry, and follows AWS to the bucket's region once when
   * no region was configured. Counts every attempt in `requests`.
   */
  async send(req: S3Request): Promise<S3Response> {
    throwIfAborted(req.signal, req.op);
    const creds = await this.credentials();
    const r = this.opts.retry ?? {};
    const attempts = req.noRetry ? 1 : (r.attempts ?? DEFAULT_RETRY_ATTEMPTS);
    let used = 0;
    let redirected = false;
    try {
      return await withRetry(
        async (attempt) => {
          used = attempt;
          try {
            return await this.sendOnce(req, creds);
          } catch (e) {
            const region = isWalshipError(e) ? e.context.bucketRegion : undefined;
            if (this.autoRegion && !redirected && typeof region === "string" && region !== this.region) {
              redirected = true;
              this.region = region;
              return await this.sendOnce(req, creds);
            }
            throw e;
          }
        },
        { ...r, attempts, signal: req.signal, op: req.op },
      );
    } catch (e) {
      if (isWalshipError(e) && e.retryable && used > 1) {
        throw new WalshipError(e.code, `${e.message} (after ${used} attempts)`, {
          op: e.op,
          context: { ...e.context, attempts: used },
          hint: e.hint,
          retryable: true,
          cause: e.cause,
        });
      }
      throw e;
    }
  }
}
