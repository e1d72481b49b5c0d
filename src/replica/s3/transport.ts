/**
 * The signed-request layer of the S3 client: where a request goes (endpoint, region, path or
 * virtual-hosted style), the keep-alive agents, credentials, SigV4 signing, the inner retry with the
 * one-time region redirect, request counting, and redaction of secrets from server text.
 */

import { readFile } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { rootCertificates } from "node:tls";
import { type ErrorContext, isWalshipError, throwIfAborted, WalshipError } from "../../errors.js";
import { emptyRequestCounts, type RequestCounts, type RequestKind } from "../client.js";
import { DEFAULT_RETRY_ATTEMPTS, withRetry } from "../retry.js";
import { type ResolvedCredentials, resolveCredentials } from "./credentials.js";
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
import { DEFAULT_REGION, type S3ClientOptions, type S3RetryOptions, usage } from "./options.js";
import {
  EMPTY_PAYLOAD_SHA256,
  encodeS3Path,
  SigningKeyCache,
  sha256Hex,
  signRequest,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "./signer.js";
import { parseErrorBody } from "./xml.js";

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

export interface RequestTarget {
  protocol: "http:" | "https:";
  hostname: string;
  port: number | undefined;
  host: string;
  path: string;
}

type Agents = ReturnType<typeof makeAgents>;

export class S3Transport {
  readonly bucket: string;
  /** Every request made, by kind (the client exposes this object as its `requests`). */
  readonly requests: RequestCounts = emptyRequestCounts();
  /** May change once when AWS redirects to the bucket's region (only if no region was configured). */
  region: string;
  readonly forcePathStyle: boolean;
  private readonly autoRegion: boolean;
  private readonly endpoint:
    | { protocol: "http:" | "https:"; hostname: string; port: number | undefined }
    | undefined;
  private readonly opts: S3ClientOptions;
  private agents: Agents | undefined;
  private agentsPromise: Promise<Agents> | undefined;
  private readonly keyCache = new SigningKeyCache();
  private credsPromise: Promise<ResolvedCredentials> | undefined;
  private secrets: string[] = [];

  /** Validates the endpoint and settles region and addressing style; the bucket is checked by the caller. */
  constructor(opts: S3ClientOptions) {
    this.opts = opts;
    this.bucket = opts.bucket;
    const env = opts.env ?? process.env;
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
    if (opts.secretAccessKey) this.secrets.push(opts.secretAccessKey);
    if (opts.sessionToken) this.secrets.push(opts.sessionToken);
  }

  /** The inner retry of each request, also used by callers that retry a sequence themselves. */
  get retry(): S3RetryOptions {
    return this.opts.retry ?? {};
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

  /** The payload hash to sign for an upload body (UNSIGNED-PAYLOAD when signPayload is false). */
  bodyHash(body: Uint8Array): string {
    return this.opts.signPayload === false ? UNSIGNED_PAYLOAD : sha256Hex(body);
  }

  /** Removes every known secret from text that came from a server. */
  redact(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
    return out;
  }

  /** Where a request for key goes: host header, path (encoded), connection host and port. */
  requestTarget(key: string | undefined): RequestTarget {
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

  /** What error messages say about a request. */
  describe(req: S3Request): RequestDescription {
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

  /**
   * Signs and sends one S3 request with the inner retry, and follows AWS to the bucket's region once when
   * no region was configured. Counts every attempt in `requests`.
   */
  async send(req: S3Request): Promise<S3Response> {
    throwIfAborted(req.signal, req.op);
    const creds = await this.credentials();
    const r = this.retry;
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

  /** Closes the keep-alive sockets; the next request makes new agents. */
  async close(): Promise<void> {
    const agents = this.agents ?? (await this.agentsPromise?.catch(() => undefined));
    agents?.http.destroy();
    agents?.https.destroy();
    this.agents = undefined;
    this.agentsPromise = undefined;
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
   * The keep-alive agents, made on first use. AWS_CA_BUNDLE (a PEM file, as the AWS SDKs honour it) adds
   * CAs to Node's built-in roots for https endpoints.
   */
  private getAgents(): Promise<Agents> {
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
}
