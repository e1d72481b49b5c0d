/**
 * Replication lag per write, from what the counting proxy saw (proxy.ts).
 *
 * Method: every LTX object a tool uploaded is decoded after the run (its copy is in the proxy's spool); the
 * highest row id on its table b-tree leaf pages (page 1, the schema, is skipped) is the newest row the
 * object carries, because rows are appended with increasing ids and every insert rewrites the rightmost
 * leaf. An object is readable from the moment the server acknowledged its upload (S3 read-after-write;
 * checked by the listing probe below). A transaction's lag is then: the acknowledgement time of the first
 * object of its database whose newest row is >= the transaction's last row id, minus the time the writer
 * saw its COMMIT return. Objects are uploaded in TXID order by both tools, so earlier rows are in that
 * object or an earlier one.
 *
 * Listing probe (optional): a separate client polls LIST on database 0's level-0 prefix directly at the
 * server (bypassing the proxy) every 50 ms and records when each object first appears; the difference to
 * the proxy's acknowledgement time shows that "acknowledged" and "listed" agree to within the poll period.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { decodeLtx } from "../../src/ltx/decoder.js";
import { decompressFrame } from "../../src/ltx/lz4-frame.js";
import type { S3ReplicaClient } from "../../src/replica/s3/client.js";
import { nowMs } from "./clock.js";
import type { ObjectAck, SpooledBody } from "./proxy.js";
import { type Distribution, distribution, round } from "./stats.js";
import type { WriterResult } from "./writer.js";

/** Removes aws-chunked framing ("<hex>;chunk-signature=...\r\n<data>\r\n" ... "0;...\r\n\r\n"). */
export function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const eol = b.indexOf("\r\n", i);
    if (eol < 0) break;
    const size = Number.parseInt(b.subarray(i, eol).toString("latin1").split(";")[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

function varint(p: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let k = 0; k < 8; k++) {
    const b = p[at + k]!;
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) return [v, at + k + 1];
  }
  return [v * 256 + p[at + 8]!, at + 9];
}

/** Highest rowid in the cells of a table b-tree leaf page (type 0x0d), or 0. */
export function maxRowidOnPage(p: Uint8Array): number {
  if (p[0] !== 0x0d) return 0;
  const n = (p[3]! << 8) | p[4]!;
  if (n === 0 || 8 + 2 * n > p.length) return 0;
  let max = 0;
  for (let k = 0; k < n; k++) {
    const ptr = (p[8 + 2 * k]! << 8) | p[9 + 2 * k]!;
    if (ptr < 8 || ptr >= p.length) return 0;
    const [, at] = varint(p, ptr);
    const [rowid] = varint(p, at);
    if (rowid > max) max = rowid;
  }
  return max;
}

/**
 * Pages of an LTX format-v1 file with header flag CompressLZ4 (ltx <= v0.3, as walrust 0.7 writes): after
 * the 100-byte header, one LZ4 frame holding (u32 pgno, page) pairs ended by pgno 0. Only used to find row
 * ids for the lag measurement; checksums are not verified.
 */
export function legacyV1Pages(body: Buffer): Array<{ pgno: number; data: Uint8Array }> {
  const pageSize = body.readUInt32BE(8);
  const commit = body.readUInt32BE(12);
  const dst = new Uint8Array((commit + 1) * (pageSize + 4) + 8);
  const { written } = decompressFrame(body.subarray(100), dst);
  const out: Array<{ pgno: number; data: Uint8Array }> = [];
  for (let at = 0; at + 4 <= written; at += 4 + pageSize) {
    const pgno = ((dst[at]! << 24) | (dst[at + 1]! << 16) | (dst[at + 2]! << 8) | dst[at + 3]!) >>> 0;
    if (pgno === 0) break;
    out.push({ pgno, data: dst.subarray(at + 4, at + 4 + pageSize) });
  }
  return out;
}

export interface DecodedObject {
  db: string;
  key: string;
  level: number;
  ackMs: number;
  bytes: number;
  maxRow: number;
}

function readSpool(fd: number, b: SpooledBody): Buffer {
  const buf = Buffer.allocUnsafe(b.length);
  readSync(fd, buf, 0, b.length, b.offset);
  return b.chunked ? dechunk(buf) : buf;
}

/** Decodes every acknowledged LTX object in the spool. Undecodable objects are counted, not fatal. */
export async function decodeSpool(
  spoolPath: string,
  acks: ObjectAck[],
  parts: Map<string, SpooledBody[]>,
): Promise<{ objects: DecodedObject[]; undecodable: number; errors: string[] }> {
  const fd = openSync(spoolPath, "r");
  const objects: DecodedObject[] = [];
  const errors: string[] = [];
  try {
    for (const a of acks) {
      let body: Buffer;
      if (a.body) body = readSpool(fd, a.body);
      else {
        const ps = [...(parts.get(a.uploadId ?? "") ?? [])].sort((x, y) => x.partNumber! - y.partNumber!);
        body = Buffer.concat(ps.map((p) => readSpool(fd, p)));
      }
      const m = /^(.*)\/([0-9a-f]{4})\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/.exec(a.key);
      try {
        let maxRow = 0;
        const flags = body.length >= 8 ? body.readUInt32BE(4) : 0;
        if (flags & 1) {
          for (const p of legacyV1Pages(body))
            if (p.pgno > 1) maxRow = Math.max(maxRow, maxRowidOnPage(p.data));
        } else {
          const ltx = await decodeLtx(body);
          for (const p of ltx.pages) if (p.pgno > 1) maxRow = Math.max(maxRow, maxRowidOnPage(p.data));
        }
        objects.push({
          db: m?.[1] ?? "",
          key: a.key,
          level: Number.parseInt(m?.[2] ?? "0", 16),
          ackMs: a.ackMs,
          bytes: body.length,
          maxRow,
        });
      } catch (e) {
        if (errors.length < 5) errors.push(`${a.key}: ${(e as Error).message}`);
      }
    }
  } finally {
    closeSync(fd);
  }
  return { objects, undecodable: errors.length, errors };
}

export interface LagResult {
  /** Lag of every transaction, in ms (only those shipped while the tool ran). */
  lagMs: Distribution | null;
  /** Transactions whose rows no object acknowledged before the tool exited. */
  unshipped: number;
  txs: number;
  /** Per database p99, to spot a slow database (min, median, max over databases). */
  perDbP99Ms: { min: number; median: number; max: number } | null;
  objects: number;
  objectsUndecodable: number;
  decodeErrors: string[];
  /** Level-0 objects acknowledged during the write window, per database per second. */
  objectsPerDbPerSecond: number;
}

export function computeLag(
  writer: WriterResult[],
  dbKey: (path: string) => string,
  decoded: { objects: DecodedObject[]; undecodable: number; errors: string[] },
): LagResult {
  const byDb = new Map<string, DecodedObject[]>();
  for (const o of decoded.objects) {
    const l = byDb.get(o.db) ?? [];
    l.push(o);
    byDb.set(o.db, l);
  }
  const lags: number[] = [];
  const p99s: number[] = [];
  let unshipped = 0;
  let txs = 0;
  let windowMs = 0;
  let dbCount = 0;
  for (const w of writer) {
    windowMs = Math.max(windowMs, w.endMs - w.startMs);
    for (const d of w.dbs) {
      dbCount++;
      const objs = (byDb.get(dbKey(d.path)) ?? []).sort((a, b) => a.ackMs - b.ackMs);
      let j = 0;
      let runMax = objs.length ? objs[0]!.maxRow : 0;
      const mine: number[] = [];
      for (let k = 0; k < d.lastIds.length; k++) {
        txs++;
        const id = d.lastIds[k]!;
        while (j < objs.length && runMax < id) {
          j++;
          if (j < objs.length) runMax = Math.max(runMax, objs[j]!.maxRow);
        }
        if (j >= objs.length) {
          unshipped += d.lastIds.length - k;
          txs += d.lastIds.length - k - 1;
          break;
        }
        mine.push(objs[j]!.ackMs - d.commitMs[k]!);
      }
      for (const x of mine) lags.push(x);
      if (mine.length) {
        mine.sort((a, b) => a - b);
        p99s.push(mine[Math.min(mine.length - 1, Math.ceil(0.99 * mine.length) - 1)]!);
      }
    }
  }
  p99s.sort((a, b) => a - b);
  const from = Math.min(...writer.map((w) => w.startMs));
  const to = Math.max(...writer.map((w) => w.endMs));
  const l0 = decoded.objects.filter((o) => o.level === 0 && o.ackMs >= from && o.ackMs <= to).length;
  return {
    lagMs: distribution(lags),
    unshipped,
    txs,
    perDbP99Ms: p99s.length
      ? {
          min: round(p99s[0]!),
          median: round(p99s[Math.floor(p99s.length / 2)]!),
          max: round(p99s[p99s.length - 1]!),
        }
      : null,
    objects: decoded.objects.length,
    objectsUndecodable: decoded.undecodable,
    decodeErrors: decoded.errors,
    objectsPerDbPerSecond: dbCount && windowMs ? round(l0 / dbCount / (windowMs / 1000), 2) : 0,
  };
}

/** Polls LIST of one replica path's level 0 directly at the server; records when each file first shows. */
export class ListingProbe {
  readonly firstSeen = new Map<string, number>();
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  private startedMs = 0;
  polls = 0;

  constructor(
    private readonly client: S3ReplicaClient,
    private readonly prefix: string,
    private readonly periodMs = 50,
  ) {}

  start(): void {
    this.startedMs = nowMs();
    this.done = (async () => {
      while (!this.stopped) {
        const t0 = nowMs();
        try {
          const files = await this.client.list(0);
          const t = nowMs();
          this.polls++;
          for (const f of files) {
            const name = `${this.prefix}/0000/${f.minTXID.toString(16).padStart(16, "0")}-${f.maxTXID.toString(16).padStart(16, "0")}.ltx`;
            if (!this.firstSeen.has(name)) this.firstSeen.set(name, t);
          }
        } catch {
          // a failed poll is just a missed sample
        }
        const wait = this.periodMs - (nowMs() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    await this.client.close();
  }

  /** Listing time minus acknowledgement time for the level-0 objects of this path. */
  compare(acks: ObjectAck[]): {
    objects: number;
    notListed: number;
    delayMs: Distribution | null;
    polls: number;
  } {
    const deltas: number[] = [];
    let notListed = 0;
    let n = 0;
    for (const a of acks) {
      // Only objects uploaded while the probe was polling (the ones from before were listed late by design).
      if (!a.key.startsWith(`${this.prefix}/0000/`) || a.ackMs < this.startedMs) continue;
      n++;
      const seen = this.firstSeen.get(a.key);
      if (seen === undefined) notListed++;
      else deltas.push(seen - a.ackMs);
    }
    return { objects: n, notListed, delayMs: distribution(deltas), polls: this.polls };
  }
}
