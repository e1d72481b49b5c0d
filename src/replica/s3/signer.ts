/**
 * AWS Signature Version 4 for S3, header form, with node:crypto only.
 * Reference: "Signature Calculations for the Authorization Header" in the Amazon S3 API docs.
 *
 * The payload hash is the hex SHA-256 of the body (callers hash what they hold in memory, one part at a
 * time for multipart) or the literal "UNSIGNED-PAYLOAD" when a caller opts out.
 */

import { createHash, createHmac } from "node:crypto";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  /** Host header value, with ":port" when the port is not the scheme's default. */
  host: string;
  /** Canonical URI: already percent-encoded with encodeS3Path / uriEncode, beginning with "/". */
  path: string;
  /** Query parameters, unencoded; the signer encodes and sorts them. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** Extra headers to send and sign (names in any case). Host, x-amz-date, x-amz-content-sha256 are added. */
  headers?: Record<string, string>;
  /** Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". */
  payloadHash: string;
  region: string;
  service?: string;
  /** Signing time (default now). */
  date?: Date;
}

export interface SignedRequest {
  /** Every header to send, lower-case names, Authorization included. */
  headers: Record<string, string>;
  /** The encoded query string (without "?") that was signed; send exactly this. */
  query: string;
  /** For tests and debugging only; holds no secret. */
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

export const EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** AWS URI encoding: every byte except A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex); "/" kept if asked. */
export function uriEncode(s: string, encodeSlash = true): string {
  let out = "";
  for (const ch of s) {
    if (UNRESERVED.test(ch) || (ch === "/" && !encodeSlash)) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, "utf8")) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Canonical URI for a bucket/key path; S3 paths are not normalised, so "a//b" stays as it is. */
export function encodeS3Path(path: string): string {
  return uriEncode(path, false);
}

export function canonicalQueryString(query: ReadonlyArray<readonly [string, string]> = []): string {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** "20130524T000000Z". */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/**
 * Derives and caches the signing key for one (secret, day, region, service): four HMACs once a day instead
 * of per request. The cache holds the derived key, never the secret itself as a printable value.
 */
export class SigningKeyCache {
  private owner: Credentials | undefined;
  private scope = "";
  private key: Buffer | undefined;

  get(creds: Credentials, day: string, region: string, service: string): Buffer {
    const scope = `${day}/${region}/${service}`;
    if (this.key && this.owner === creds && this.scope === scope) return this.key;
    const kDate = hmac(`AWS4${creds.secretAccessKey}`, day);
    const kRegion = hmac(kDate, region);
    const kService = hmac(kRegion, service);
    this.key = hmac(kService, "aws4_request");
    this.owner = creds;
    this.scope = scope;
    return this.key;
  }
}

const defaultCache = new SigningKeyCache();

export function signRequest(input: SignInput, creds: Credentials, cache = defaultCache): SignedRequest {
  const service = input.service ?? "s3";
  const date = input.date ?? new Date();
  const stamp = amzDate(date);
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
  headers.host = input.host;
  headers["x-amz-date"] = stamp;
  headers["x-amz-content-sha256"] = input.payloadHash;
  if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;

  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  const query = canonicalQueryString(input.query);
  const canonicalRequest = [
    input.method.toUpperCase(),
    input.path,
    query,
    canonicalHeaders,
    signedHeaders,
    input.payloadHash,
  ].join("\n");
  const scope = `${day}/${input.region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, sha256Hex(canonicalRequest)].join("\n");
  const signature = createHmac("sha256", cache.get(creds, day, input.region, service))
    .update(stringToSign, "utf8")
    .digest("hex");
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { headers, query, canonicalRequest, stringToSign, signature };
}
