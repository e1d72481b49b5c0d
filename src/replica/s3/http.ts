/**
 * One HTTP exchange over node:http / node:https with a keep-alive agent, an inactivity timeout and an
 * AbortSignal, plus the mapping of failures to WalshipError codes. No fetch (undici costs 3x the CPU and 2x
 * the memory of node:http on Node 20; see perf/dependencies.md).
 */

import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { abortError, type ErrorContext, WalshipError } from "../../errors.js";
import { CREDENTIALS_HINT } from "./credentials.js";

/**
 * Inactivity timeout per request, in ms: the request fails when no byte moves in either direction for
 * this long (connecting included). 30 s is Litestream's dial timeout; a healthy S3 endpoint answers within
 * a few seconds even for CompleteMultipartUpload (which sends whitespace while it works), and a shorter
 * bound would misfire on a slow uplink pushing a 5 MiB part. A stalled socket is then retried.
 */
export const REQUEST_IDLE_TIMEOUT_MS = 30_000;

/**
 * Sockets per agent. 16 lets list/HEAD fan-out and multipart parts run in parallel while bounding file
 * descriptors and server load per replica.
 */
export const DEFAULT_MAX_SOCKETS = 16;

/** Idle keep-alive sockets are closed after this many ms, below the 20 s or so most S3 servers allow. */
export const KEEP_ALIVE_IDLE_MS = 15_000;

/** Error bodies are small XML documents; anything longer is cut before parsing. */
const MAX_ERROR_BODY = 64 * 1024;

export interface HttpExchange {
  protocol: "http:" | "https:";
  hostname: string;
  port: number | undefined;
  method: string;
  /** Path and query, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
  timeoutMs: number;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** An exact-size copy (never a view into a socket buffer). */
  body: Uint8Array;
}

export class RequestTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  constructor(ms: number) {
    super(`no response activity for ${ms} ms`);
  }
}

export function makeAgents(opts: { maxSockets: number; rejectUnauthorized: boolean; ca?: string[] }): {
  http: HttpAgent;
  https: HttpsAgent;
} {
  const common = {
    keepAlive: true,
    maxSockets: opts.maxSockets,
    maxFreeSockets: opts.maxSockets,
    timeout: KEEP_ALIVE_IDLE_MS,
    scheduling: "lifo" as const,
  };
  return {
    http: new HttpAgent(common),
    https: new HttpsAgent({
      ...common,
      rejectUnauthorized: opts.rejectUnauthorized,
      ...(opts.ca ? { ca: opts.ca } : {}),
    }),
  };
}

/** Sends one request and reads the whole response. Rejects with the raw Node error (see classifyNetworkError). */
export function exchange(
  agents: { http: HttpAgent; https: HttpsAgent },
  x: HttpExchange,
): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, result?: HttpResult) => {
      if (settled) return;
      settled = true;
      x.signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(result!);
    };
    const isHttps = x.protocol === "https:";
    const req = (isHttps ? httpsRequest : httpRequest)({
      hostname: x.hostname,
      port: x.port,
      method: x.method,
      path: x.path,
      headers: x.headers,
      agent: isHttps ? agents.https : agents.http,
    });
    const onAbort = () => {
      const e = new Error("aborted by caller");
      (e as NodeJS.ErrnoException).code = "ABORT_ERR";
      req.destroy(e);
      finish(e);
    };
    if (x.signal) {
      if (x.signal.aborted) {
        onAbort();
        return;
      }
      x.signal.addEventListener("abort", onAbort, { once: true });
    }
    req.setTimeout(x.timeoutMs, () => req.destroy(new RequestTimeoutError(x.timeoutMs)));
    req.on("error", (e) => finish(e));
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const cut = (got: number, want: number) =>
        Object.assign(new Error(`response body cut short: ${got} of ${want} bytes`), { code: "ECONNRESET" });
      res.on("error", (e) => finish(e));
      res.on("aborted", () => finish(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
      const declared = Number(res.headers["content-length"]);
      if (
        status < 300 &&
        x.method !== "HEAD" &&
        res.headers["content-length"] !== undefined &&
        Number.isSafeInteger(declared) &&
        declared >= 0
      ) {
        // Known length: fill one exact-size buffer as bytes arrive (one copy, no chunk list).
        const body = new Uint8Array(declared);
        let off = 0;
        res.on("data", (c: Buffer) => {
          if (off + c.length > declared) {
            res.destroy(
              Object.assign(new Error(`response body longer than its ${declared} bytes`), { code: "EPROTO" }),
            );
            return;
          }
          body.set(c, off);
          off += c.length;
        });
        res.on("end", () => {
          if (off !== declared) finish(cut(off, declared));
          else finish(undefined, { status, headers: res.headers, body });
        });
        return;
      }
      const chunks: Buffer[] = [];
      let n = 0;
      const limit = status >= 300 ? MAX_ERROR_BODY : Number.POSITIVE_INFINITY;
      res.on("data", (c: Buffer) => {
        if (n >= limit) return;
        chunks.push(c);
        n += c.length;
      });
      res.on("end", () => {
        const body = new Uint8Array(Math.min(n, limit));
        let off = 0;
        for (const c of chunks) {
          const take = Math.min(c.length, body.length - off);
          body.set(take === c.length ? c : c.subarray(0, take), off);
          off += take;
        }
        finish(undefined, { status, headers: res.headers, body });
      });
    });
    if (x.body && x.body.length > 0) req.end(x.body);
    else req.end();
  });
}

const NETWORK_RETRYABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

export interface RequestDescription {
  op: string;
  method: string;
  /** "s3://bucket/key" for messages. */
  target: string;
  /** Printable endpoint ("https://s3.us-east-1.amazonaws.com"), no credentials. */
  endpoint: string;
  bucket: string;
  key?: string;
  context?: ErrorContext;
  signal?: AbortSignal;
}

export function classifyNetworkError(e: unknown, d: RequestDescription): WalshipError {
  if (d.signal?.aborted || (e as NodeJS.ErrnoException)?.code === "ABORT_ERR") return abortError(d.op);
  const code = (e as NodeJS.ErrnoException)?.code ?? "";
  const msg = e instanceof Error ? e.message : String(e);
  const context = { ...d.context, bucket: d.bucket, key: d.key, endpoint: d.endpoint, errno: code };
  if (code.startsWith("ERR_TLS") || code.includes("CERT") || code.includes("SELF_SIGNED")) {
    return new WalshipError("storage_connection", `TLS failure talking to ${d.endpoint}: ${msg}`, {
      op: d.op,
      context,
      hint: "check the endpoint's certificate; for a self-signed test server use skip-verify=true",
      cause: e,
    });
  }
  const retryable = NETWORK_RETRYABLE.has(code) || e instanceof RequestTimeoutError;
  const what = e instanceof RequestTimeoutError ? `timed out (${msg})` : msg;
  return new WalshipError(
    "storage_connection",
    `cannot reach S3 endpoint ${d.endpoint} (${d.method} ${d.target}): ${what}`,
    {
      op: d.op,
      context,
      hint:
        code === "ECONNREFUSED"
          ? "nothing listens on that endpoint: check the endpoint URL and that the server runs"
          : code === "ENOTFOUND"
            ? "the endpoint's host name does not resolve: check the endpoint or bucket name"
            : "check the network and the endpoint; walship retries",
      retryable: retryable || code === "",
      cause: e,
    },
  );
}

const THROTTLE_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequests",
  "TooManyRequestsException",
  "RequestThrottled",
]);
const AUTH_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "InvalidSecurity",
  "AccountProblem",
  "AllAccessDisabled",
  "MissingSecurityHeader",
  "Unauthorized",
  "XAdminUserNotFound", // versitygw: unknown access key (HTTP 404)
]);
const RETRYABLE_CODES = new Set(["InternalError", "ServiceUnavailable", "RequestTimeout", "BadDigest"]);

export interface S3HttpError {
  status: number;
  code: string | undefined;
  message: string | undefined;
  /** x-amz-bucket-region or the error's <Region>. */
  bucketRegion: string | undefined;
}

/** Maps an HTTP status and S3 error code to a WalshipError. `redact` removes secrets from server text. */
export function classifyHttpError(
  err: S3HttpError,
  d: RequestDescription,
  redact: (s: string) => string,
): WalshipError {
  const { status } = err;
  const code = err.code ?? defaultCode(status, d.key !== undefined);
  const serverMsg = redact(err.message ?? "").slice(0, 300);
  const message = `S3 ${d.method} ${d.target}: HTTP ${status} ${code}${serverMsg ? `: ${serverMsg}` : ""}`;
  const context: ErrorContext = {
    ...d.context,
    bucket: d.bucket,
    key: d.key,
    endpoint: d.endpoint,
    status,
    s3Code: code,
  };
  if (err.bucketRegion) context.bucketRegion = err.bucketRegion;
  const op = d.op;
  if (code === "NoSuchBucket") {
    return new WalshipError("replica_not_found", message, {
      op,
      context,
      hint: `create the bucket "${d.bucket}" first (or fix the bucket name, endpoint or region)`,
    });
  }
  if (code === "NoSuchKey" || (status === 404 && code === "NotFound")) {
    return new WalshipError("replica_not_found", message, { op, context });
  }
  if (code === "NoSuchUpload") return new WalshipError("storage", message, { op, context });
  if (code === "RequestTimeTooSkewed") {
    return new WalshipError("storage_auth", message, {
      op,
      context,
      hint: "the system clock is off by more than 15 minutes; synchronise it (NTP)",
    });
  }
  if (
    code === "AuthorizationHeaderMalformed" ||
    code === "PermanentRedirect" ||
    code === "IllegalLocationConstraintException"
  ) {
    return new WalshipError("storage", message, {
      op,
      context,
      hint: err.bucketRegion
        ? `the bucket is in region ${err.bucketRegion}: set region=${err.bucketRegion}`
        : "the bucket is in another region: set the region",
    });
  }
  if (AUTH_CODES.has(code) || status === 401 || status === 403) {
    return new WalshipError("storage_auth", message, {
      op,
      context,
      hint:
        code === "AccessDenied"
          ? `the credentials were accepted but may not access s3://${d.bucket}; check the key's policy. ${CREDENTIALS_HINT}`
          : `the storage rejected the credentials: ${CREDENTIALS_HINT}`,
    });
  }
  if (status === 429 || status === 503 || THROTTLE_CODES.has(code)) {
    return new WalshipError("storage_throttled", message, {
      op,
      context,
      hint: "the storage asks to slow down; walship backs off and retries",
      retryable: true,
    });
  }
  if (status >= 500 || status === 408 || RETRYABLE_CODES.has(code)) {
    return new WalshipError("storage_connection", message, {
      op,
      context,
      hint: "the storage had a server-side failure; walship retries",
      retryable: true,
    });
  }
  return new WalshipError("storage", message, { op, context });
}

function defaultCode(status: number, hasKey: boolean): string {
  switch (status) {
    case 301:
      return "PermanentRedirect";
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "AccessDenied";
    case 404:
      return hasKey ? "NoSuchKey" : "NoSuchBucket";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 416:
      return "InvalidRange";
    case 429:
      return "TooManyRequests";
    case 503:
      return "SlowDown";
    default:
      return status >= 500 ? "InternalError" : `HTTP${status}`;
  }
}
