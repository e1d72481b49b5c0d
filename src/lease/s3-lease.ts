/**
 * The lease on S3: `<path>/lock.json`, written with conditional requests (AWS since 2024-08, and most
 * compatibles): `If-None-Match: *` to create, `If-Match: <etag>` to renew or take over, a conditional
 * DELETE to release. HTTP 412 (and AWS's 409 ConditionalRequestConflict for a concurrent conditional
 * write) means another writer got there first.
 *
 * A store that ignores those headers turns every conditional write into a plain one; the lease then only
 * detects a live holder, it cannot settle a race. probeConditionalWrites finds such a store at start.
 */
import { randomBytes } from "node:crypto";
import { isWalshipError, type WalshipError } from "../errors.js";
import type { S3ReplicaClient, S3Request } from "../replica/s3/client.js";
import type { LeaseStore, StoredLease } from "./lease.js";

export const LEASE_OBJECT = "lock.json";

function conflict(e: unknown): boolean {
  if (!isWalshipError(e)) return false;
  const status = (e as WalshipError).context.status;
  return status === 412 || status === 409;
}

function notFound(e: unknown): boolean {
  return isWalshipError(e, "replica_not_found") && (e as WalshipError).context.s3Code !== "NoSuchBucket";
}

function etagOf(headers: Record<string, string | string[] | undefined>): string {
  const e = headers.etag;
  return typeof e === "string" ? e : "";
}

export class S3LeaseStore implements LeaseStore {
  readonly key: string;
  readonly location: string;

  constructor(private readonly client: S3ReplicaClient) {
    this.key = `${client.path}/${LEASE_OBJECT}`;
    this.location = `s3://${client.bucket}/${this.key}`;
  }

  private req(method: S3Request["method"], headers: Record<string, string>, body?: string): S3Request {
    const kind = method === "GET" ? "GET" : method === "DELETE" ? "DELETE" : "PUT";
    const r: S3Request = { kind, op: "lease", method, key: this.key, headers, context: { key: this.key } };
    if (body !== undefined) {
      r.body = Buffer.from(body, "utf8");
      r.headers = { ...headers, "content-type": "application/json" };
    }
    return r;
  }

  async read(signal?: AbortSignal): Promise<StoredLease | null> {
    try {
      const res = await this.client.send({ ...this.req("GET", {}), signal });
      return { text: Buffer.from(res.body).toString("utf8"), version: etagOf(res.headers) };
    } catch (e) {
      if (notFound(e)) return null;
      throw e;
    }
  }

  private async put(
    text: string,
    cond: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<string | null> {
    try {
      const res = await this.client.send({ ...this.req("PUT", cond, text), signal });
      return etagOf(res.headers) || "unknown";
    } catch (e) {
      if (conflict(e)) return null;
      throw e;
    }
  }

  create(text: string, signal?: AbortSignal): Promise<string | null> {
    return this.put(text, { "if-none-match": "*" }, signal);
  }

  replace(text: string, version: string, signal?: AbortSignal): Promise<string | null> {
    return this.put(text, { "if-match": version }, signal);
  }

  async remove(version: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.client.send({ ...this.req("DELETE", { "if-match": version }), signal });
      return true;
    } catch (e) {
      if (conflict(e)) return false;
      if (notFound(e)) return true;
      throw e;
    }
  }
}

export interface ConditionalWriteSupport {
  /** A second `If-None-Match: *` PUT of an existing key was refused. */
  ifNoneMatch: boolean;
  /** A PUT with a wrong `If-Match` ETag was refused. */
  ifMatch: boolean;
  /** Both: the lease can settle races on this store. */
  enforced: boolean;
}

/**
 * Writes a probe object under the replica path twice with `If-None-Match: *` and once with a wrong
 * `If-Match`, then deletes it. Three PUTs and a DELETE, once at start. Names that are not LTX files are
 * ignored by every listing, so a probe left behind by a crash harms nothing.
 */
export async function probeConditionalWrites(
  client: S3ReplicaClient,
  signal?: AbortSignal,
): Promise<ConditionalWriteSupport> {
  const key = `${client.path}/.walship-probe-${randomBytes(6).toString("hex")}`;
  const put = async (headers: Record<string, string>): Promise<boolean> => {
    try {
      await client.send({
        kind: "PUT",
        op: "lease.probe",
        method: "PUT",
        key,
        headers,
        body: Buffer.from("probe\n"),
        signal,
      });
      return true;
    } catch (e) {
      if (conflict(e)) return false;
      throw e;
    }
  };
  try {
    await put({ "if-none-match": "*" });
    const ifNoneMatch = !(await put({ "if-none-match": "*" }));
    const ifMatch = !(await put({ "if-match": '"00000000000000000000000000000000"' }));
    return { ifNoneMatch, ifMatch, enforced: ifNoneMatch && ifMatch };
  } finally {
    await client.send({ kind: "DELETE", op: "lease.probe", method: "DELETE", key }).catch(() => {});
  }
}
