/**
 * Uploading one object over an S3Transport: a body up to one part goes up in one PutObject, a larger one
 * by multipart upload (CreateMultipartUpload, parts in parallel, CompleteMultipartUpload; abort on any
 * failure). A streamed body is cut into parts as it arrives, so at most (concurrency + 1) parts are held.
 */

import { abortError, type ErrorContext, isWalshipError, throwIfAborted, WalshipError } from "../../errors.js";
import type { WriteBody } from "../client.js";
import { DEFAULT_RETRY_ATTEMPTS, withRetry } from "../retry.js";
import { classifyHttpError } from "./http.js";
import { headObject, putObject } from "./objects.js";
import { MAX_PARTS } from "./options.js";
import { sha256Hex } from "./signer.js";
import type { S3Transport } from "./transport.js";
import { completeMultipartXml, parseErrorBody, xmlText } from "./xml.js";

interface Part {
  bytes: Uint8Array;
  last: boolean;
}

export interface UploadOptions {
  /** Headers of the object (metadata, storage class): sent with PutObject or CreateMultipartUpload. */
  headers: Record<string, string>;
  partSize: number;
  /** Parts uploading at once. */
  concurrency: number;
  signal: AbortSignal | undefined;
  context: ErrorContext;
}

const OP = "replica.write";

/**
 * First buffer of a streamed body (bytes); it doubles up to the part size as data arrives. Most streamed
 * bodies (the start-up snapshot of a small database, a compacted level-1 file) are KiB, not MiB: a whole
 * 5 MiB part allocated up front for each was walship's largest allocation by far (10 MiB per database
 * in the first minute), and freeing blocks that size raises glibc's mmap threshold, after which smaller
 * buffers fragment its heap instead of going back to the system.
 */
const FIRST_PART_BUFFER_BYTES = 64 * 1024;

/** Splits an async byte stream into parts of exactly partSize; the last part may be shorter (or equal). */
async function* streamParts(src: AsyncIterable<Uint8Array>, partSize: number): AsyncGenerator<Part> {
  let buf = new Uint8Array(Math.min(partSize, FIRST_PART_BUFFER_BYTES));
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
      if (fill === buf.length) {
        const grown = new Uint8Array(Math.min(partSize, buf.length * 2));
        grown.set(buf);
        buf = grown;
      }
      const n = Math.min(buf.length - fill, chunk.length - off);
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

/** A failure while reading the caller's body stream: "aborted" if the signal fired, else "internal". */
function bodyError(
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

/** Stores data at key: one PutObject when it fits in one part, else a multipart upload. */
export async function uploadObject(
  t: S3Transport,
  key: string,
  data: WriteBody,
  o: UploadOptions,
): Promise<void> {
  const { headers, signal, context } = o;
  if (data instanceof Uint8Array) {
    if (data.length <= o.partSize) {
      await putObject(t, key, data, { headers, signal, op: OP, context });
      return;
    }
    await multipartUpload(t, key, bufferParts(data, o.partSize), o);
    return;
  }
  const parts = streamParts(data, o.partSize);
  let first: IteratorResult<Part>;
  try {
    first = await parts.next();
  } catch (e) {
    throw bodyError(e, OP, key, context, signal);
  }
  if (first.done || first.value.last) {
    await parts.return(undefined);
    const bytes = first.done ? new Uint8Array(0) : first.value.bytes;
    await putObject(t, key, bytes, { headers, signal, op: OP, context });
    return;
  }
  await multipartUpload(t, key, prepend(first.value, parts), o);
}

async function multipartUpload(
  t: S3Transport,
  key: string,
  parts: Iterable<Part> | AsyncIterable<Part>,
  o: UploadOptions,
): Promise<void> {
  const op = OP;
  const { headers, signal, context } = o;
  const created = await t.send({
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
      context: { ...context, bucket: t.bucket, key },
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
          throw new WalshipError("storage", `file too large for ${MAX_PARTS} parts of ${o.partSize} bytes`, {
            op,
            context: { ...context, key },
            hint: "raise the part size",
          });
        }
        total += part.bytes.length;
        const n = partNumber;
        const task = uploadPart(t, key, uploadId, n, part.bytes, signal, context).then((etag) => {
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
        if (inflight.size >= o.concurrency) await Promise.race(inflight);
      }
    } catch (e) {
      throw isWalshipError(e) ? e : bodyError(e, op, key, context, signal);
    }
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
    throwIfAborted(signal, op);
    done.sort((a, b) => a.partNumber - b.partNumber);
    await completeMultipart(t, key, uploadId, done, total, signal, context);
  } catch (e) {
    await Promise.allSettled([...inflight]);
    await abortMultipart(t, key, uploadId, context);
    throw e;
  }
}

async function uploadPart(
  t: S3Transport,
  key: string,
  uploadId: string,
  partNumber: number,
  bytes: Uint8Array,
  signal: AbortSignal | undefined,
  context: ErrorContext,
): Promise<string> {
  const res = await t.send({
    kind: "PUT",
    op: OP,
    method: "PUT",
    key,
    query: [
      ["partNumber", String(partNumber)],
      ["uploadId", uploadId],
    ],
    body: bytes,
    payloadHash: t.bodyHash(bytes),
    signal,
    context: { ...context, partNumber },
  });
  const etag = res.headers.etag;
  if (typeof etag !== "string" || etag === "") {
    throw new WalshipError("storage", `S3 UploadPart ${partNumber} of ${key} returned no ETag`, {
      op: OP,
      context: { ...context, key, partNumber },
    });
  }
  return etag;
}

async function completeMultipart(
  t: S3Transport,
  key: string,
  uploadId: string,
  parts: Array<{ partNumber: number; etag: string }>,
  total: number,
  signal: AbortSignal | undefined,
  context: ErrorContext,
): Promise<void> {
  const op = OP;
  const body = Buffer.from(completeMultipartXml(parts), "utf8");
  const payloadHash = sha256Hex(body);
  const r = t.retry;
  await withRetry(
    async (attempt) => {
      try {
        const res = await t.send({
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
            t.describe({ kind: "PUT", op, method: "POST", key, context }),
            (s) => t.redact(s),
          );
        }
      } catch (e) {
        // A retry after a lost response: the upload may already be complete.
        if (attempt > 1 && isWalshipError(e) && e.context.s3Code === "NoSuchUpload") {
          const h = await headObject(t, key, { signal, op, context }).catch(() => undefined);
          if (h && h.size === total) return;
        }
        throw e;
      }
    },
    { attempts: r.attempts ?? DEFAULT_RETRY_ATTEMPTS, ...r, signal, op },
  );
}

async function abortMultipart(
  t: S3Transport,
  key: string,
  uploadId: string,
  context: ErrorContext,
): Promise<void> {
  // Best effort and deliberately without the caller's signal (it may be what failed the upload).
  await t
    .send({
      kind: "DELETE",
      op: "replica.write.abort",
      method: "DELETE",
      key,
      query: [["uploadId", uploadId]],
      context,
    })
    .catch(() => {});
}
