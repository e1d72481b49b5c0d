/**
 * Replica URLs from the config: the sub-path each database of a glob gets, and the client for a URL with
 * the [s3] table applied. Values written in the URL itself win over [s3]: the URL is the more specific.
 */
import type { ReplicaClient } from "../replica/client.js";
import { parseReplicaUrl } from "../replica/url.js";
import type { S3 as S3Spec, Values } from "./schema.js";

export type S3Settings = Values<typeof S3Spec>;

const SCHEME_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/**
 * The replica of one database matched by a glob: `<replica>/<rel>`, where rel is the database's path
 * below the glob's fixed directory (so /data/a/x.db and /data/b/x.db do not collide).
 */
export function childReplicaUrl(base: string, rel: string): string {
  const clean = rel
    .split(/[\\/]+/)
    .filter(Boolean)
    .map(encodeIfUrl(base))
    .join("/");
  if (!SCHEME_RE.test(base)) return `${base.replace(/\/+$/, "")}/${clean}`;
  const q = base.indexOf("?");
  const head = q < 0 ? base : base.slice(0, q);
  const query = q < 0 ? "" : base.slice(q);
  return `${head.replace(/\/+$/, "")}/${clean}${query}`;
}

function encodeIfUrl(base: string): (seg: string) => string {
  return SCHEME_RE.test(base) ? (s) => encodeURIComponent(s) : (s) => s;
}

function urlHas(url: string, ...names: string[]): boolean {
  const q = url.indexOf("?");
  if (q < 0) return false;
  const params = new URLSearchParams(url.slice(q + 1));
  return names.some((n) => params.has(n));
}

export function makeReplicaClient(url: string, s3: S3Settings, env: NodeJS.ProcessEnv): ReplicaClient {
  const isS3 = /^s3:\/\//i.test(url);
  if (!isS3) return parseReplicaUrl(url, { env });
  const endpoint = urlHas(url, "endpoint") ? undefined : s3.endpoint;
  const overrides = {
    accessKeyId: s3["access-key-id"],
    secretAccessKey: s3["secret-access-key"],
    sessionToken: s3["session-token"],
    region: urlHas(url, "region") ? undefined : s3.region,
    endpoint:
      endpoint === undefined ? undefined : /^https?:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`,
    // An endpoint means an S3-compatible store, which nearly always wants path style (as in the URL form).
    forcePathStyle: urlHas(url, "force-path-style", "forcePathStyle")
      ? undefined
      : (s3["force-path-style"] ?? (endpoint !== undefined ? true : undefined)),
    skipVerify: urlHas(url, "skip-verify", "skipVerify") ? undefined : s3["skip-verify"],
    storageClass: urlHas(url, "storage-class", "storageClass") ? undefined : s3["storage-class"],
  };
  return parseReplicaUrl(url, { env, s3: overrides });
}
