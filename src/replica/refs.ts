/**
 * Argument checks and ordering shared by every ReplicaClient backend (file.ts, s3/client.ts). A failed
 * check is an "internal" error: these values come from walship's own code, never from users.
 */

import { WalshipError } from "../errors.js";
import { type FileRef, SNAPSHOT_LEVEL } from "./client.js";

const MAX_TXID = 0xffff_ffff_ffff_ffffn;

/** Throws an "internal" error for a level or TXID no caller should produce. */
export function checkFileRef(level: number, minTXID: bigint, maxTXID: bigint, op: string): void {
  if (!Number.isInteger(level) || level < 0 || level > SNAPSHOT_LEVEL) {
    throw new WalshipError("internal", `invalid LTX level ${level} (expected 0..${SNAPSHOT_LEVEL})`, {
      op,
      context: { level },
    });
  }
  if (typeof minTXID !== "bigint" || typeof maxTXID !== "bigint") {
    throw new WalshipError("internal", "TXIDs must be bigints", { op, context: { level } });
  }
  if (minTXID < 0n || maxTXID < 0n || minTXID > MAX_TXID || maxTXID > MAX_TXID || minTXID > maxTXID) {
    throw new WalshipError("internal", `invalid TXID range ${minTXID}-${maxTXID}`, {
      op,
      context: { level, minTXID, maxTXID },
    });
  }
}

export function checkRange(offset: number, length: number | undefined, op: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new WalshipError("internal", `invalid read offset ${offset}`, { op, context: { offset } });
  }
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new WalshipError("internal", `invalid read length ${length}`, { op, context: { offset } });
  }
}

export function checkTimestamp(timestamp: number, op: string): void {
  if (!Number.isFinite(timestamp) || timestamp < 0) {
    throw new WalshipError("internal", `invalid LTX timestamp ${timestamp}`, { op });
  }
}

/** Sort by minTXID, then maxTXID, ascending. */
export function compareLtxInfo(a: FileRef, b: FileRef): number {
  if (a.minTXID !== b.minTXID) return a.minTXID < b.minTXID ? -1 : 1;
  if (a.maxTXID !== b.maxTXID) return a.maxTXID < b.maxTXID ? -1 : 1;
  return 0;
}
