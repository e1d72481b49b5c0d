/**
 * Single S3 object and bucket operations over an S3Transport: ListObjectsV2 (all pages), HeadObject,
 * PutObject, DeleteObjects (in batches of 1000, with Content-MD5 unless turned off) and CreateBucket.
 * S3ReplicaClient exposes each as a public method for tools and tests.
 */

import { createHash } from "node:crypto";
import { type ErrorContext, isWalshipError, throwIfAborted, WalshipError } from "../../errors.js";
import { DEFAULT_REGION, DELETE_BATCH } from "./options.js";
import { EMPTY_PAYLOAD_SHA256, sha256Hex } from "./signer.js";
import type { S3Transport } from "./transport.js";
import { deleteObjectsXml, type ListedObject, parseDeleteResult, parseListObjectsV2 } from "./xml.js";

export interface S3ObjectHead {
  size: number;
  lastModified: number | undefined;
  /** x-amz-meta-* headers, keyed without the prefix. */
  metadata: Record<string, string>;
}

/** Every object under prefix (all pages of ListObjectsV2). */
export async function listObjects(
  t: S3Transport,
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
    const res = await t.send({
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
        `S3 listing of s3://${t.bucket}/${prefix} is truncated without a continuation token`,
        {
          op,
          context: { ...o.context, bucket: t.bucket, key: prefix, page },
        },
      );
    }
    token = parsed.nextContinuationToken;
  }
}

export async function headObject(
  t: S3Transport,
  key: string,
  o: { signal?: AbortSignal; op?: string; context?: ErrorContext } = {},
): Promise<S3ObjectHead> {
  const res = await t.send({
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
export async function putObject(
  t: S3Transport,
  key: string,
  body: Uint8Array,
  o: { headers?: Record<string, string>; signal?: AbortSignal; op?: string; context?: ErrorContext } = {},
): Promise<void> {
  await t.send({
    kind: "PUT",
    op: o.op ?? "s3.put",
    method: "PUT",
    key,
    headers: o.headers,
    body,
    payloadHash: t.bodyHash(body),
    signal: o.signal,
    context: o.context,
  });
}

/** DeleteObjects in batches of 1000; keys that do not exist are not an error. */
export async function deleteKeys(
  t: S3Transport,
  keys: readonly string[],
  o: { signal?: AbortSignal; op?: string; contentMD5: boolean },
): Promise<void> {
  const op = o.op ?? "s3.delete";
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    throwIfAborted(o.signal, op);
    const batch = keys.slice(i, i + DELETE_BATCH);
    const body = Buffer.from(deleteObjectsXml(batch), "utf8");
    const headers: Record<string, string> = { "content-type": "application/xml" };
    if (o.contentMD5) {
      headers["content-md5"] = createHash("md5").update(body).digest("base64");
    }
    const res = await t.send({
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
        `S3 DeleteObjects on s3://${t.bucket}: ${errors.length} of ${batch.length} keys failed, first ${e0.key}: ${e0.code} ${t.redact(e0.message)}`,
        { op, context: { bucket: t.bucket, key: e0.key, s3Code: e0.code } },
      );
    }
  }
}

/** CreateBucket; an existing bucket owned by these credentials is fine. For tests and setup tools. */
export async function createBucket(t: S3Transport, o: { signal?: AbortSignal } = {}): Promise<void> {
  const body =
    t.region === DEFAULT_REGION
      ? undefined
      : Buffer.from(
          `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${t.region}</LocationConstraint></CreateBucketConfiguration>`,
        );
  try {
    await t.send({
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
