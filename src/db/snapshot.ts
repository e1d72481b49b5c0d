/**
 * Level-9 snapshots: the whole database at one TXID, named 1-<txid>. The image is encoded to a temp file in
 * the meta directory first (fast, local), so capture is held up only for the local encode, never for the
 * upload, and memory stays at one page whatever the database size.
 */
import { createReadStream } from "node:fs";
import { copyFile, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fsError } from "../errors.js";
import { LtxEncoder } from "../ltx/encoder.js";
import { decodeHeader, HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE } from "../ltx/header.js";
import { type LtxFileInfo, type ReplicaClient, SNAPSHOT_LEVEL } from "../replica/client.js";
import { coalesce } from "./coalesce.js";
import type { PageSource } from "./image.js";
import { readStagedHeader } from "./pages.js";

export interface EncodedSnapshot {
  path: string;
  txid: bigint;
  size: number;
  timestamp: number;
}

let encodeSeq = 0;

export async function encodeSnapshotFile(
  src: PageSource,
  metaDir: string,
  timestamp: number,
): Promise<EncodedSnapshot> {
  // Unique per encode: two snapshots of one TXID must never share (and truncate) one temp file.
  const path = join(metaDir, `snapshot-${src.txid.toString(16)}-${process.pid}-${++encodeSeq}.ltx.tmp`);
  const enc = new LtxEncoder({
    flags: HEADER_FLAG_NO_CHECKSUM,
    pageSize: src.pageSize,
    commit: src.commit,
    minTXID: 1n,
    maxTXID: src.txid,
    timestamp: BigInt(timestamp),
    preApplyChecksum: 0n,
    walOffset: 0n,
    walSize: 0n,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
  });
  let size = 0;
  try {
    const fh = await open(path, "w");
    try {
      async function* frames(): AsyncGenerator<Uint8Array> {
        yield enc.header();
        for await (const p of src.pages()) yield enc.encodePage(p.pgno, p.data);
        yield enc.finish().bytes;
      }
      for await (const b of coalesce(frames())) {
        size += b.length;
        await fh.write(b);
      }
    } finally {
      await fh.close();
    }
  } catch (e) {
    await rm(path, { force: true });
    throw fsError(e, "encode snapshot", path);
  }
  return { path, txid: src.txid, size, timestamp };
}

export async function uploadSnapshot(
  client: ReplicaClient,
  snap: EncodedSnapshot,
  signal?: AbortSignal,
): Promise<void> {
  const body = createReadStream(snap.path);
  body.on("error", () => {});
  try {
    await client.write(SNAPSHOT_LEVEL, 1n, snap.txid, body, { timestamp: snap.timestamp, signal });
  } finally {
    body.destroy();
    await rm(snap.path, { force: true });
  }
}

/** A copy of the staged TXID-1 file (a full snapshot 1-1) to upload as the level-9 snapshot, if present. */
export async function copyFirstFile(staged: string, metaDir: string): Promise<EncodedSnapshot | null> {
  const path = join(metaDir, `snapshot-1-${process.pid}-${++encodeSeq}.ltx.tmp`);
  try {
    await copyFile(staged, path);
  } catch {
    return null;
  }
  const hdr = await readStagedHeader(path);
  if (hdr.minTXID !== 1n || hdr.maxTXID !== 1n) {
    await rm(path, { force: true });
    return null;
  }
  return { path, txid: 1n, size: (await stat(path)).size, timestamp: Number(hdr.timestamp) };
}

/** The page size in a snapshot's header (one ranged read of 100 bytes). */
export async function snapshotPageSize(
  client: ReplicaClient,
  f: LtxFileInfo,
  signal?: AbortSignal,
): Promise<number> {
  const head = await client.open(f.level, f.minTXID, f.maxTXID, { offset: 0, length: HEADER_SIZE, signal });
  return decodeHeader(head).pageSize;
}
