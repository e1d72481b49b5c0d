/**
 * Raw object access for the Litestream v0.3 layout (`generations/...`), which is not LTX and so is outside
 * the ReplicaClient seam (that lists only LTX files by level). A small separate interface, satisfied here
 * by wrapping the two backends walship has:
 *
 * - file: node:fs under the replica's root directory (the same directory v0.3's file replica used);
 * - s3: the S3 client's public listObjects (ListObjectsV2, all pages) and send (ranged GETs), so signing,
 *   retries and request counting are the client's own.
 *
 * Keys are relative to the replica root and use "/" separators, e.g.
 * "generations/a16532dc5361d225/wal/00000000_00004080.wal.lz4".
 */
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { fsError, throwIfAborted, WalshipError } from "../../errors.js";
import type { ReplicaClient } from "../../replica/client.js";
import { FileReplicaClient } from "../../replica/file.js";
import { S3ReplicaClient } from "../../replica/s3/client.js";
import { parseRfc3339 } from "../../replica/s3/rfc3339.js";

export interface RawObject {
  /** Key relative to the replica root, "/"-separated. */
  key: string;
  size: number;
  /** LastModified (S3) or mtime (file), ms since the epoch. */
  createdAt: number;
}

export interface RawReplica {
  readonly location: string;
  /** Every object whose key starts with prefix (recursively); empty when there is none. */
  listRaw(prefix: string, opts?: { signal?: AbortSignal }): Promise<RawObject[]>;
  /** The object's bytes as a stream of chunks. */
  readRaw(obj: RawObject, opts?: { signal?: AbortSignal }): AsyncIterable<Uint8Array>;
}

/** S3 range size for reading large snapshots in pieces (memory: one range at a time). */
const S3_READ_RANGE = 8 * 1024 * 1024;

export class FileRawReplica implements RawReplica {
  readonly location: string;
  constructor(readonly root: string) {
    this.location = root;
  }

  async listRaw(prefix: string, opts: { signal?: AbortSignal } = {}): Promise<RawObject[]> {
    const op = "legacy list";
    const out: RawObject[] = [];
    // The prefix names a directory here ("generations/" or "generations/<id>/").
    const dir = join(this.root, ...prefix.split("/").filter(Boolean));
    const walk = async (d: string): Promise<void> => {
      throwIfAborted(opts.signal, op);
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return;
        throw fsError(e, op, d);
      }
      for (const ent of entries) {
        const p = join(d, ent.name);
        if (ent.isDirectory()) {
          await walk(p);
        } else if (ent.isFile()) {
          const st = await stat(p).catch(() => undefined);
          if (!st) continue;
          const key = p
            .slice(this.root.length + 1)
            .split(sep)
            .join("/");
          out.push({ key, size: st.size, createdAt: Math.round(st.mtimeMs) });
        }
      }
    };
    await walk(dir);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  async *readRaw(obj: RawObject, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    const path = join(this.root, ...obj.key.split("/"));
    const stream = createReadStream(path, { highWaterMark: 1 << 20, signal: opts.signal });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (e) {
      if ((e as Error).name === "AbortError")
        throw new WalshipError("aborted", "aborted", { op: "legacy read" });
      throw fsError(e, "legacy read", path);
    }
  }
}

export class S3RawReplica implements RawReplica {
  readonly location: string;
  constructor(readonly client: S3ReplicaClient) {
    this.location = client.location;
  }

  private prefixKey(rel: string): string {
    return `${this.client.path}/${rel}`;
  }

  async listRaw(prefix: string, opts: { signal?: AbortSignal } = {}): Promise<RawObject[]> {
    const full = this.prefixKey(prefix);
    const base = `${this.client.path}/`;
    const objects = await this.client.listObjects(full, { signal: opts.signal, op: "legacy list" });
    const out: RawObject[] = [];
    for (const o of objects) {
      if (!o.key.startsWith(base)) continue;
      out.push({ key: o.key.slice(base.length), size: o.size, createdAt: parseRfc3339(o.lastModified) ?? 0 });
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  async *readRaw(obj: RawObject, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    const key = this.prefixKey(obj.key);
    if (obj.size === 0) return;
    for (let off = 0; off < obj.size; ) {
      const end = Math.min(obj.size, off + S3_READ_RANGE) - 1;
      const res = await this.client.send({
        kind: "GET",
        op: "legacy read",
        method: "GET",
        key,
        headers: { range: `bytes=${off}-${end}` },
        signal: opts.signal,
        context: { key },
      });
      // A server that ignores Range sends the whole object.
      const body = res.status === 200 ? res.body.subarray(off, end + 1) : res.body;
      if (body.length === 0) {
        throw new WalshipError("storage_connection", `short read of s3 object ${key} at byte ${off}`, {
          op: "legacy read",
          context: { key, offset: off },
          retryable: true,
        });
      }
      yield body;
      off += body.length;
    }
  }
}

/** The raw view of a replica client, or null for a backend without one. */
export function rawReplicaFor(client: ReplicaClient): RawReplica | null {
  if (client instanceof FileReplicaClient) return new FileRawReplica(client.rootPath);
  if (client instanceof S3ReplicaClient) return new S3RawReplica(client);
  return null;
}
