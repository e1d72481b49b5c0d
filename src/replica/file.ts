/**
 * A replica in a local directory, in Litestream v0.5's file layout (litestream-v05.md §7.1):
 *
 *   <root>/ltx/<level in decimal>/<min %016x>-<max %016x>.ltx
 *
 * Writes go to "<name>.tmp" in the same directory, are fsynced, get their mtime set to the LTX timestamp
 * and are renamed into place, then the directory is fsynced: a reader sees the whole file or none. The
 * mtime carries the timestamp (Litestream does the same), so it needs a filesystem with at least
 * millisecond mtime resolution (ext4, xfs, btrfs, tmpfs, APFS); on coarser ones createdAt is rounded.
 *
 * Request counters: one LIST per directory read, one GET per open, one PUT per write, one DELETE per file
 * removed. The stats a listing needs are not counted (they are part of the LIST).
 */

import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { abortError, fsError, isWalshipError, throwIfAborted, WalshipError } from "../errors.js";
import { formatLtxFilename, parseLtxFilename as parseName } from "../ltx/filename.js";
import {
  type CallOptions,
  emptyRequestCounts,
  type FileRef,
  type ListOptions,
  type LtxFileInfo,
  type OpenOptions,
  type ReplicaClient,
  type RequestCounts,
  type WriteBody,
  type WriteOptions,
} from "./client.js";
import { checkFileRef, checkRange, checkTimestamp, compareLtxInfo } from "./refs.js";
import { mapLimit } from "./retry.js";

/** Parallel stats while listing and unlinks while deleting: enough to hide latency, few descriptors. */
const FS_CONCURRENCY = 16;

// Kept importable from here for existing importers; the helpers live in refs.ts and ../ltx/filename.ts.
export { formatLtxFilename } from "../ltx/filename.js";
export { checkFileRef, checkRange, checkTimestamp, compareLtxInfo } from "./refs.js";

/**
 * Strict LTX file name: 16 lowercase hex digits, dash, 16 lowercase hex digits, ".ltx".
 * @deprecated the same pattern as ../ltx/filename.ts (which keeps it private); use parseLtxFilename there.
 */
export const LTX_FILENAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;

/**
 * Parses a strict LTX file name; undefined for anything else (temporary files, foreign objects).
 * @deprecated use parseLtxFilename from ../ltx/filename.ts, which returns null instead of undefined.
 */
export function parseLtxFilename(name: string): { minTXID: bigint; maxTXID: bigint } | undefined {
  return parseName(name) ?? undefined;
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** fsError plus the file's coordinates; unknown fs failures become "storage" rather than "internal". */
function mapFsError(
  e: unknown,
  op: string,
  path: string,
  ctx: Record<string, unknown> = {},
  notFound?: { message: string; hint?: string },
): WalshipError {
  if (isWalshipError(e)) return e;
  const base = fsError(e, op, path);
  if (base.code === "replica_not_found" && notFound) {
    return new WalshipError("replica_not_found", notFound.message, {
      op,
      context: { path, ...ctx },
      hint: notFound.hint,
      cause: e,
    });
  }
  return new WalshipError(base.code === "internal" ? "storage" : base.code, base.message, {
    op,
    context: { ...base.context, ...ctx },
    hint: base.hint,
    retryable: base.retryable,
    cause: e,
  });
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (e) {
    // Some filesystems cannot fsync a directory; the rename is as durable as they allow.
    const code = errnoOf(e);
    if (code !== "EINVAL" && code !== "ENOTSUP" && code !== "EISDIR" && code !== "EBADF") throw e;
  } finally {
    await fh?.close().catch(() => {});
  }
}

export class FileReplicaClient implements ReplicaClient {
  readonly type = "file";
  readonly location: string;
  readonly requests: RequestCounts = emptyRequestCounts();
  readonly rootPath: string;
  /** Writes of the same name in this process run one after the other (they share the temp name). */
  private readonly writing = new Map<string, Promise<void>>();

  constructor(rootPath: string) {
    if (typeof rootPath !== "string" || rootPath === "") {
      throw new WalshipError("usage", "file replica needs a path", {
        op: "replica",
        hint: "give a directory, e.g. /backups/db or file:///backups/db",
      });
    }
    this.rootPath = resolve(rootPath);
    this.location = this.rootPath;
  }

  levelDir(level: number): string {
    return join(this.rootPath, "ltx", String(level));
  }

  filePath(level: number, minTXID: bigint, maxTXID: bigint): string {
    return join(this.levelDir(level), formatLtxFilename(minTXID, maxTXID));
  }

  async list(level: number, opts: ListOptions = {}): Promise<LtxFileInfo[]> {
    const op = "replica.list";
    checkFileRef(level, 0n, 0n, op);
    throwIfAborted(opts.signal, op);
    const dir = this.levelDir(level);
    const from = opts.fromTXID ?? 0n;
    let names: string[];
    this.requests.LIST++;
    try {
      names = await readdir(dir);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return [];
      throw mapFsError(e, op, dir, { level });
    }
    throwIfAborted(opts.signal, op);
    const candidates: { name: string; minTXID: bigint; maxTXID: bigint }[] = [];
    for (const name of names) {
      const ids = parseName(name);
      if (ids && ids.minTXID >= from) candidates.push({ name, ...ids });
    }
    const infos = await mapLimit(candidates, FS_CONCURRENCY, async (c): Promise<LtxFileInfo | undefined> => {
      try {
        const st = await stat(join(dir, c.name));
        if (!st.isFile()) return undefined;
        return {
          level,
          minTXID: c.minTXID,
          maxTXID: c.maxTXID,
          size: st.size,
          createdAt: Math.round(st.mtimeMs),
        };
      } catch (e) {
        if (errnoOf(e) === "ENOENT") return undefined; // deleted since readdir
        throw mapFsError(e, op, join(dir, c.name), { level });
      }
    });
    throwIfAborted(opts.signal, op);
    const out = infos.filter((x): x is LtxFileInfo => x !== undefined);
    out.sort(compareLtxInfo);
    return out;
  }

  async open(level: number, minTXID: bigint, maxTXID: bigint, opts: OpenOptions = {}): Promise<Uint8Array> {
    const op = "replica.open";
    checkFileRef(level, minTXID, maxTXID, op);
    const offset = opts.offset ?? 0;
    checkRange(offset, opts.length, op);
    throwIfAborted(opts.signal, op);
    const path = this.filePath(level, minTXID, maxTXID);
    const ctx = { level, minTXID, maxTXID };
    this.requests.GET++;
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, "r");
    } catch (e) {
      throw mapFsError(e, op, path, ctx, {
        message: `LTX file not found: ${path}`,
        hint: "the replica has no such file; it may have been compacted away or the path is wrong",
      });
    }
    try {
      const { size } = await fh.stat();
      const end = opts.length === undefined ? size : Math.min(size, offset + opts.length);
      if (offset >= end) return new Uint8Array(0);
      const buf = new Uint8Array(end - offset);
      let done = 0;
      while (done < buf.length) {
        throwIfAborted(opts.signal, op);
        const { bytesRead } = await fh.read(buf, done, buf.length - done, offset + done);
        if (bytesRead === 0) break; // truncated under us; return what exists
        done += bytesRead;
      }
      return done === buf.length ? buf : buf.subarray(0, done);
    } catch (e) {
      throw mapFsError(e, op, path, ctx);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async write(
    level: number,
    minTXID: bigint,
    maxTXID: bigint,
    data: WriteBody,
    opts: WriteOptions,
  ): Promise<void> {
    const op = "replica.write";
    checkFileRef(level, minTXID, maxTXID, op);
    checkTimestamp(opts.timestamp, op);
    throwIfAborted(opts.signal, op);
    const final = this.filePath(level, minTXID, maxTXID);
    const previous = this.writing.get(final);
    const run = (previous ?? Promise.resolve())
      .catch(() => {})
      .then(() => this.writeLocked(level, minTXID, maxTXID, final, data, opts));
    const tail = run.catch(() => {});
    this.writing.set(final, tail);
    try {
      await run;
    } finally {
      if (this.writing.get(final) === tail) this.writing.delete(final);
    }
  }

  private async writeLocked(
    level: number,
    minTXID: bigint,
    maxTXID: bigint,
    final: string,
    data: WriteBody,
    opts: WriteOptions,
  ): Promise<void> {
    const op = "replica.write";
    const ctx = { level, minTXID, maxTXID };
    const dir = dirname(final);
    const tmp = `${final}.tmp`;
    throwIfAborted(opts.signal, op);
    this.requests.PUT++;
    try {
      const created = await mkdir(dir, { recursive: true });
      if (created !== undefined) {
        // Make the new directories themselves durable: fsync each new directory's parent.
        for (let d = dir; d.length >= created.length; d = dirname(d)) await fsyncDir(dirname(d));
      }
    } catch (e) {
      throw mapFsError(e, op, dir, ctx);
    }
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    // Whether a failure came from the caller's body stream rather than from the filesystem.
    let readingSource = false;
    try {
      fh = await open(tmp, "w", 0o644);
      if (data instanceof Uint8Array) {
        await writeAll(fh, data);
      } else {
        readingSource = true;
        for await (const chunk of data) {
          readingSource = false;
          throwIfAborted(opts.signal, op);
          await writeAll(fh, chunk);
          readingSource = true;
        }
        readingSource = false;
      }
      throwIfAborted(opts.signal, op);
      const seconds = opts.timestamp / 1000;
      await fh.utimes(seconds, seconds);
      await fh.sync();
      await fh.close();
      fh = undefined;
      throwIfAborted(opts.signal, op); // last point before the file becomes visible
      await rename(tmp, final);
      await fsyncDir(dir);
    } catch (e) {
      await fh?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      if (opts.signal?.aborted) throw abortError(op);
      if (readingSource && !isWalshipError(e)) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new WalshipError("internal", `reading the body to write ${final} failed: ${msg}`, {
          op,
          context: { path: final, ...ctx },
          cause: e,
        });
      }
      throw mapFsError(e, op, tmp, ctx);
    }
  }

  async delete(files: FileRef[], opts: CallOptions = {}): Promise<void> {
    const op = "replica.delete";
    for (const f of files) checkFileRef(f.level, f.minTXID, f.maxTXID, op);
    throwIfAborted(opts.signal, op);
    await mapLimit(files, FS_CONCURRENCY, async (f) => {
      throwIfAborted(opts.signal, op);
      const path = this.filePath(f.level, f.minTXID, f.maxTXID);
      this.requests.DELETE++;
      try {
        await unlink(path);
      } catch (e) {
        if (errnoOf(e) === "ENOENT") return;
        throw mapFsError(e, op, path, { level: f.level, minTXID: f.minTXID, maxTXID: f.maxTXID });
      }
    });
  }

  async close(): Promise<void> {}
}

async function writeAll(fh: Awaited<ReturnType<typeof open>>, buf: Uint8Array): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done);
    done += bytesWritten;
  }
}
