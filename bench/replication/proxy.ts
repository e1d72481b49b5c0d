/**
 * A counting HTTP proxy in front of the S3 server. The tools talk to it instead of the server; it forwards
 * every request unchanged (the Host header too, so SigV4 signatures stay valid), counts requests by kind
 * and, for LTX objects, keeps a copy of each uploaded body in a spool file together with the time the
 * server acknowledged the upload. After the run the spool is decoded to find which rows each object holds
 * (see lag.ts). S3 has read-after-write consistency, so an object is readable from the moment the server
 * acknowledges its PutObject (or CompleteMultipartUpload); lag.ts also cross-checks that with a listing
 * poller.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { nowMs } from "./clock.js";

export type RequestKind =
  | "PUT"
  | "PUT_PART"
  | "GET"
  | "LIST"
  | "HEAD"
  | "DELETE"
  | "DELETE_BATCH"
  | "MPU_CREATE"
  | "MPU_COMPLETE"
  | "MPU_ABORT"
  | "OTHER";

export type Counts = Record<string, number>;

/** One uploaded LTX body (a whole object, or one part of a multipart upload) in the spool file. */
export interface SpooledBody {
  key: string;
  offset: number;
  length: number;
  /** aws-chunked body (streaming SigV4): must be de-chunked before decoding. */
  chunked: boolean;
  uploadId?: string;
  partNumber?: number;
}

/** An LTX object became readable at ackMs (PutObject or CompleteMultipartUpload acknowledged). */
export interface ObjectAck {
  key: string;
  ackMs: number;
  /** For PutObject: the body. For multipart: the uploadId whose parts make the object. */
  body?: SpooledBody;
  uploadId?: string;
}

const LTX_KEY = /(?:^|\/)[0-9a-f]{4}\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/;

/**
 * What a request was for, so a budget can be split by purpose: "list" (any LIST), "ltx" (an LTX object),
 * "lease" (walship's single-writer lease object, lock.json) or "other" (e.g. walship's start-up probe of
 * conditional writes).
 */
export type KeyClass = "list" | "ltx" | "lease" | "other";

export function keyClass(kind: RequestKind, key: string): KeyClass {
  if (kind === "LIST") return "list";
  if (LTX_KEY.test(key)) return "ltx";
  return /(?:^|\/)lock\.json$/.test(key) ? "lease" : "other";
}

export function classify(method: string, key: string, q: URLSearchParams): RequestKind {
  switch (method) {
    case "GET":
      return key === "" || q.has("list-type") ? "LIST" : "GET";
    case "PUT":
      return q.has("partNumber") ? "PUT_PART" : "PUT";
    case "POST":
      if (q.has("delete")) return "DELETE_BATCH";
      if (q.has("uploads")) return "MPU_CREATE";
      if (q.has("uploadId")) return "MPU_COMPLETE";
      return "OTHER";
    case "DELETE":
      return q.has("uploadId") ? "MPU_ABORT" : "DELETE";
    case "HEAD":
      return "HEAD";
    default:
      return "OTHER";
  }
}

export class CountingProxy {
  counts: Counts = {};
  /** The same requests, counted per key class (see keyClass). */
  byClass: Record<KeyClass, Counts> = { list: {}, ltx: {}, lease: {}, other: {} };
  errors: Counts = {};
  bytesUp = 0;
  bytesDown = 0;
  readonly acks: ObjectAck[] = [];
  readonly parts = new Map<string, SpooledBody[]>();
  private server: Server | null = null;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 512 });
  private fd: number;
  private spoolAt = 0;
  port = 0;

  constructor(
    private readonly upstreamPort: number,
    readonly spoolPath: string,
    private readonly bucket: string,
  ) {
    this.fd = openSync(spoolPath, "w");
  }

  async start(): Promise<number> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A copy of the counters, for phase deltas. */
  snapshot(): Counts {
    return { ...this.counts };
  }

  /** A copy of the per-class counters. */
  snapshotByClass(): Record<KeyClass, Counts> {
    const b = this.byClass;
    return { list: { ...b.list }, ltx: { ...b.ltx }, lease: { ...b.lease }, other: { ...b.other } };
  }

  private spool(chunks: Buffer[]): { offset: number; length: number } {
    const offset = this.spoolAt;
    for (const c of chunks) {
      writeSync(this.fd, c);
      this.spoolAt += c.length;
    }
    return { offset, length: this.spoolAt - offset };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const prefix = `/${this.bucket}/`;
    const key = url.pathname.startsWith(prefix) ? decodeURIComponent(url.pathname.slice(prefix.length)) : "";
    const method = req.method ?? "GET";
    const kind = classify(method, key, url.searchParams);
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    const perClass = this.byClass[keyClass(kind, key)];
    perClass[kind] = (perClass[kind] ?? 0) + 1;
    const isLtx = LTX_KEY.test(key);
    const keepBody = isLtx && (kind === "PUT" || kind === "PUT_PART");
    const chunks: Buffer[] = [];
    const sha = String(req.headers["x-amz-content-sha256"] ?? "");
    const chunked =
      sha.startsWith("STREAMING-") || String(req.headers["content-encoding"] ?? "").includes("aws-chunked");
    const up = request({
      host: "127.0.0.1",
      port: this.upstreamPort,
      method,
      path: req.url,
      headers: req.headers,
      agent: this.agent,
    });
    req.on("data", (c: Buffer) => {
      this.bytesUp += c.length;
      if (keepBody) chunks.push(c);
    });
    up.on("response", (ur) => {
      const ok = (ur.statusCode ?? 0) >= 200 && (ur.statusCode ?? 0) < 300;
      if (!ok) this.errors[kind] = (this.errors[kind] ?? 0) + 1;
      if (ok && isLtx) {
        const ackMs = nowMs();
        const finish = () => {
          if (kind === "PUT") {
            const s = this.spool(chunks);
            this.acks.push({ key, ackMs, body: { key, ...s, chunked } });
          } else if (kind === "PUT_PART") {
            const uploadId = url.searchParams.get("uploadId") ?? "";
            const s = this.spool(chunks);
            const list = this.parts.get(uploadId) ?? [];
            list.push({
              key,
              ...s,
              chunked,
              uploadId,
              partNumber: Number(url.searchParams.get("partNumber")),
            });
            this.parts.set(uploadId, list);
          } else if (kind === "MPU_COMPLETE") {
            this.acks.push({ key, ackMs, uploadId: url.searchParams.get("uploadId") ?? "" });
          }
        };
        if (req.complete) finish();
        else req.once("end", finish);
      }
      ur.on("data", (c: Buffer) => {
        this.bytesDown += c.length;
      });
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", (e) => {
      this.errors.PROXY = (this.errors.PROXY ?? 0) + 1;
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${e.message}`);
    });
    req.pipe(up);
  }

  async close(): Promise<void> {
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
    this.agent.destroy();
    closeSync(this.fd);
  }
}
