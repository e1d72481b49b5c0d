/**
 * Replica URLs, in Litestream's forms (litestream-v05.md §12):
 *
 *   /abs/path, ./rel/path, file:///abs/path                     → FileReplicaClient
 *   s3://bucket/path?endpoint=http://127.0.0.1:9000&region=..   → S3ReplicaClient
 *
 * S3 query parameters (kebab-case or Litestream's camelCase): endpoint, region, force-path-style,
 * skip-verify, sign-payload, require-content-md5, storage-class, part-size, concurrency. force-path-style
 * defaults to true when an endpoint is given. LITESTREAM_S3_ENDPOINT supplies the endpoint when the URL has
 * none (as Litestream's URL factory does). The host form bucket.s3.<region>.amazonaws.com is accepted.
 * Anything else is a "usage" error that says what is allowed.
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WalshipError } from "../errors.js";
import type { ReplicaClient } from "./client.js";
import { FileReplicaClient } from "./file.js";
import { type S3ClientOptions, S3ReplicaClient } from "./s3/client.js";
import type { Env } from "./s3/credentials.js";

export interface ParseReplicaUrlOptions {
  /** Environment for credentials, region and LITESTREAM_S3_ENDPOINT (default process.env). */
  env?: Env;
  /** Values that override what the URL says (e.g. from a config file or a test). */
  s3?: Partial<Omit<S3ClientOptions, "bucket" | "path" | "env">>;
}

const SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

type S3Param =
  | "endpoint"
  | "region"
  | "forcePathStyle"
  | "skipVerify"
  | "signPayload"
  | "requireContentMD5"
  | "storageClass"
  | "partSize"
  | "concurrency";

const S3_PARAMS: Record<string, S3Param> = {
  endpoint: "endpoint",
  region: "region",
  "force-path-style": "forcePathStyle",
  forcePathStyle: "forcePathStyle",
  "skip-verify": "skipVerify",
  skipVerify: "skipVerify",
  "sign-payload": "signPayload",
  signPayload: "signPayload",
  "require-content-md5": "requireContentMD5",
  requireContentMD5: "requireContentMD5",
  "storage-class": "storageClass",
  storageClass: "storageClass",
  "part-size": "partSize",
  partSize: "partSize",
  concurrency: "concurrency",
};

function usage(message: string, hint?: string): WalshipError {
  return new WalshipError("usage", message, { op: "replica.url", hint });
}

/** A printable form of a URL: query values of secret-looking parameters are not echoed. */
function printable(url: string): string {
  return url.replace(/\/\/[^/@]*@/, "//***@");
}

function parseBool(name: string, v: string): boolean {
  if (v === "true" || v === "1" || v === "") return true;
  if (v === "false" || v === "0") return false;
  throw usage(`replica URL parameter ${name} must be true or false, got "${v}"`);
}

/** "5242880", "5MiB", "8MB", "10m" → bytes (binary multiples, as Litestream's humanize accepts). */
export function parseSize(name: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)$/i.exec(v.trim());
  if (!m) throw usage(`replica URL parameter ${name} must be a size like 5MiB, got "${v}"`);
  const unit = m[2]!.toLowerCase();
  const mult = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}

export function parseReplicaUrl(url: string, opts: ParseReplicaUrlOptions = {}): ReplicaClient {
  if (typeof url !== "string" || url.trim() === "") {
    throw usage("empty replica URL", "give a directory (/backups/db) or an S3 URL (s3://bucket/db)");
  }
  const scheme = SCHEME_RE.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(url) && !url.startsWith("/") && !/^[a-zA-Z]:[\\/]/.test(url)) {
      throw usage(
        `replica URL "${printable(url)}" is not a path or a scheme://... URL`,
        "use file:///abs/path or s3://bucket/path",
      );
    }
    return new FileReplicaClient(resolve(url));
  }
  if (scheme === "file") return parseFileUrl(url);
  if (scheme === "s3") return parseS3Url(url, opts);
  throw usage(
    `unsupported replica URL scheme "${scheme}:" in ${printable(url)}`,
    "walship supports file:///path (or a plain path) and s3://bucket/path (S3 and compatibles via ?endpoint=)",
  );
}

function parseFileUrl(url: string): FileReplicaClient {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usage(`invalid file URL "${url}"`, "use file:///absolute/path");
  }
  if (u.host !== "" && u.host !== "localhost") {
    throw usage(`file URL "${url}" names a host (${u.host})`, "use file:///absolute/path (three slashes)");
  }
  if (u.search !== "" || u.hash !== "") {
    throw usage(`file URL "${url}" has parameters; file replicas take none`, "use file:///absolute/path");
  }
  const path = fileURLToPath(u);
  if (path === "/" || path === "") throw usage(`file URL "${url}" has no path`, "use file:///absolute/path");
  return new FileReplicaClient(path);
}

function parseS3Url(url: string, opts: ParseReplicaUrlOptions): S3ReplicaClient {
  const env = opts.env ?? process.env;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usage(`invalid S3 URL "${printable(url)}"`, "use s3://bucket/path?endpoint=...");
  }
  if (u.username || u.password) {
    throw usage(
      "S3 URLs must not carry credentials",
      "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the access-key-id / secret-access-key settings",
    );
  }
  if (u.port) throw usage(`S3 URL ${printable(url)} has a port; put host:port in ?endpoint=`);
  let bucket = decodeURIComponent(u.hostname);
  let hostRegion: string | undefined;
  const aws = /^(.+)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$/.exec(bucket);
  if (aws) {
    bucket = aws[1]!;
    hostRegion = aws[2];
  }
  if (bucket === "") throw usage(`S3 URL ${printable(url)} has no bucket`, "use s3://bucket/path");
  const path = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, "");
  if (path === "") {
    throw usage(`S3 URL ${printable(url)} has no path`, "give the replica a path, e.g. s3://bucket/db");
  }

  const o: S3ClientOptions = { bucket, path, env };
  if (hostRegion) o.region = hostRegion;
  const seen = new Set<S3Param>();
  for (const [name, value] of u.searchParams) {
    const param = S3_PARAMS[name];
    if (!param) {
      throw usage(
        `unknown S3 replica URL parameter "${name}"`,
        `known parameters: ${[...new Set(Object.keys(S3_PARAMS).filter((k) => k.includes("-") || !/[A-Z]/.test(k)))].join(", ")}`,
      );
    }
    if (seen.has(param)) throw usage(`S3 replica URL parameter "${name}" given twice`);
    seen.add(param);
    switch (param) {
      case "endpoint":
        o.endpoint = endpointUrl(value);
        break;
      case "region":
        o.region = value;
        break;
      case "storageClass":
        o.storageClass = value;
        break;
      case "partSize":
        o.partSize = parseSize(name, value);
        break;
      case "concurrency": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || n > 64) throw usage(`concurrency must be 1..64, got "${value}"`);
        o.concurrency = n;
        break;
      }
      default:
        o[param] = parseBool(name, value);
    }
  }
  if (o.endpoint === undefined && env.LITESTREAM_S3_ENDPOINT) {
    o.endpoint = endpointUrl(env.LITESTREAM_S3_ENDPOINT);
  }
  if (o.endpoint !== undefined && o.forcePathStyle === undefined) o.forcePathStyle = true;
  return new S3ReplicaClient({ ...o, ...stripUndefined(opts.s3 ?? {}) });
}

/** A bare host:port means http://, as in Litestream's URL factory; other schemes are refused. */
function endpointUrl(value: string): string {
  if (/^https?:\/\//i.test(value)) return value;
  if (value.includes("://")) throw usage(`S3 endpoint must be http:// or https://, got "${value}"`);
  return `http://${value}`;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
