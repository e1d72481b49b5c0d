/**
 * Byte streams for compaction inputs: a local copy when one exists (no GET at all), otherwise the replica
 * object read in ranges. Each range is retried on its own, so a dropped connection re-reads one range,
 * not the file, and at most one range per input is in memory.
 */
import { type FileHandle, open } from "node:fs/promises";
import { throwIfAborted, WalshipError } from "../errors.js";
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { withRetry } from "../replica/retry.js";
import { REMOTE_RANGE_BYTES } from "./policy.js";

/** Path of a local copy of a replica file, or null. The file may vanish at any time; that is handled. */
export type LocalSource = (level: number, minTXID: bigint, maxTXID: bigint) => string | null;

/** Attempts per range: rides out a few connection resets during a long compaction. */
const RANGE_ATTEMPTS = 4;
/** Read size for local copies. */
const LOCAL_CHUNK_BYTES = 256 * 1024;

export interface InputOptions {
  local?: LocalSource;
  signal?: AbortSignal;
  rangeBytes?: number;
}

/** Open inputs; close() releases local file handles whether or not the streams were read to the end. */
export class InputSet {
  private readonly handles: FileHandle[] = [];
  /** Inputs served from local copies (the rest came from the replica). */
  localCount = 0;

  async open(client: ReplicaClient, f: LtxFileInfo, opts: InputOptions): Promise<AsyncIterable<Uint8Array>> {
    const path = opts.local?.(f.level, f.minTXID, f.maxTXID) ?? null;
    if (path) {
      const fh = await openLocal(path, f);
      if (fh) {
        this.handles.push(fh);
        this.localCount++;
        return readLocal(fh, opts.signal);
      }
    }
    return readRemote(client, f, opts.rangeBytes ?? REMOTE_RANGE_BYTES, opts.signal);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.splice(0).map((h) => h.close().catch(() => {})));
  }
}

/**
 * An open handle on the local copy if it is the same file (same size); an open handle keeps reading even
 * if the uploader removes the file meanwhile. Null means "use the replica".
 */
async function openLocal(path: string, f: LtxFileInfo): Promise<FileHandle | null> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (f.size > 0 && st.size !== f.size) {
      await fh.close();
      return null;
    }
    return fh;
  } catch {
    await fh.close().catch(() => {});
    return null;
  }
}

async function* readLocal(fh: FileHandle, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  let pos = 0;
  for (;;) {
    throwIfAborted(signal, "compaction read");
    const buf = new Uint8Array(LOCAL_CHUNK_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }
}

/** Ranges until one comes back short: the contract says a range past the end returns what exists. */
async function* readRemote(
  client: ReplicaClient,
  f: LtxFileInfo,
  rangeBytes: number,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (;;) {
    const chunk = await withRetry(
      () => client.open(f.level, f.minTXID, f.maxTXID, { offset, length: rangeBytes, signal }),
      { attempts: RANGE_ATTEMPTS, signal, op: "compaction read" },
    ).catch((e: unknown) => {
      if (e instanceof WalshipError && e.code === "replica_not_found") {
        throw new WalshipError("replica_not_found", e.message, {
          op: "compaction read",
          context: { ...e.context, level: f.level, minTXID: f.minTXID, maxTXID: f.maxTXID },
          hint: "the input was deleted meanwhile (another compactor?); the listing is refreshed and the compaction retried",
          cause: e,
        });
      }
      throw e;
    });
    if (chunk.length > 0) yield chunk;
    offset += chunk.length;
    if (chunk.length < rangeBytes) return;
  }
}
