/**
 * The Litestream v0.3 replica layout (litestream-v05.md §15), as every v0.3.x release wrote it:
 *
 *   <root>/generations/<generation: 16 hex>/snapshots/<index %08x>.snapshot.lz4
 *   <root>/generations/<generation: 16 hex>/wal/<index %08x>_<offset %08x>.wal.lz4
 *
 * A snapshot is an LZ4 frame of the whole database file at the start of WAL index <index>; a WAL segment
 * is an LZ4 frame of the bytes [offset, offset + n) of the shadow WAL file number <index> (offset 0 starts
 * with the 32-byte WAL header). Object times (LastModified / mtime) are the only timestamps.
 */
import { WalshipError } from "../../errors.js";
import type { RawObject, RawReplica } from "./raw.js";

export const GENERATIONS_PREFIX = "generations/";

const SNAPSHOT_RE = /^generations\/([0-9a-f]{16})\/snapshots\/([0-9a-f]{8})\.snapshot\.lz4$/;
// v0.5's parser accepts 8-16 hex digits for the offset; v0.3 wrote 8.
const SEGMENT_RE = /^generations\/([0-9a-f]{16})\/wal\/([0-9a-f]{8})_([0-9a-f]{8,16})\.wal\.lz4$/;

export interface V3Snapshot {
  generation: string;
  index: number;
  obj: RawObject;
}

export interface V3Segment {
  generation: string;
  index: number;
  offset: number;
  obj: RawObject;
}

export interface V3Generation {
  id: string;
  /** Sorted by index. */
  snapshots: V3Snapshot[];
  /** Sorted by index, then offset. */
  segments: V3Segment[];
  createdAt: number;
  updatedAt: number;
}

/** Every v0.3 generation in the replica (one LIST on S3); empty when there is none. */
export async function listGenerations(
  raw: RawReplica,
  opts: { signal?: AbortSignal } = {},
): Promise<V3Generation[]> {
  const objects = await raw.listRaw(GENERATIONS_PREFIX, opts);
  return groupGenerations(objects);
}

export function groupGenerations(objects: RawObject[]): V3Generation[] {
  const gens = new Map<string, V3Generation>();
  const gen = (id: string): V3Generation => {
    let g = gens.get(id);
    if (!g) {
      g = { id, snapshots: [], segments: [], createdAt: Number.POSITIVE_INFINITY, updatedAt: 0 };
      gens.set(id, g);
    }
    return g;
  };
  for (const obj of objects) {
    const s = SNAPSHOT_RE.exec(obj.key);
    if (s) {
      const g = gen(s[1]!);
      g.snapshots.push({ generation: g.id, index: Number.parseInt(s[2]!, 16), obj });
      touch(g, obj);
      continue;
    }
    const w = SEGMENT_RE.exec(obj.key);
    if (w) {
      const g = gen(w[1]!);
      g.segments.push({
        generation: g.id,
        index: Number.parseInt(w[2]!, 16),
        offset: Number.parseInt(w[3]!, 16),
        obj,
      });
      touch(g, obj);
    }
    // Anything else (temporary files, foreign objects) is ignored, as v0.3 itself did.
  }
  const out = [...gens.values()];
  for (const g of out) {
    g.snapshots.sort((a, b) => a.index - b.index || a.obj.createdAt - b.obj.createdAt);
    g.segments.sort((a, b) => a.index - b.index || a.offset - b.offset);
  }
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

function touch(g: V3Generation, obj: RawObject): void {
  if (obj.createdAt < g.createdAt) g.createdAt = obj.createdAt;
  if (obj.createdAt > g.updatedAt) g.updatedAt = obj.createdAt;
}

export interface LegacyTarget {
  /** Restore from this generation (16 hex digits); default: the most recently updated one. */
  generation?: string;
  /** Apply WAL up to and including this WAL index; default: all. */
  index?: number;
  /** Only objects created at or before this time (ms since the epoch), as v0.3's -timestamp. */
  timestamp?: number;
}

export interface LegacyPlan {
  generation: string;
  snapshot: V3Snapshot;
  /** WAL indexes to apply in order, each with its segments in offset order. */
  wal: Array<{ index: number; segments: V3Segment[] }>;
  /** The WAL index the restored database is at (the snapshot's when no WAL is applied). */
  index: number;
  /** Total bytes to download. */
  bytes: number;
}

function notFound(message: string, hint: string): WalshipError {
  return new WalshipError("replica_not_found", message, { op: "legacy restore plan", hint });
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/**
 * Litestream v0.3's restore target: the generation (given, or the one updated last), its newest snapshot
 * at or before the target index and time, then every WAL segment from the snapshot's index on, up to the
 * target. The WAL indexes must be consecutive and each must start at offset 0.
 */
export function planLegacyRestore(gens: V3Generation[], target: LegacyTarget, where: string): LegacyPlan {
  const ts = target.timestamp;
  const okTime = (o: RawObject) => ts === undefined || o.createdAt <= ts;
  const okIndex = (i: number) => target.index === undefined || i <= target.index;
  let candidates = gens;
  if (target.generation !== undefined) {
    candidates = gens.filter((g) => g.id === target.generation);
    if (candidates.length === 0) {
      throw notFound(
        `generation ${target.generation} not found in ${where}`,
        `generations present: ${gens.map((g) => g.id).join(", ") || "none"}`,
      );
    }
  }
  let best: { g: V3Generation; updatedAt: number } | null = null;
  for (const g of candidates) {
    if (!g.snapshots.some((s) => okTime(s.obj) && okIndex(s.index))) continue;
    let updatedAt = 0;
    for (const o of [...g.snapshots, ...g.segments]) {
      if (okTime(o.obj) && o.obj.createdAt > updatedAt) updatedAt = o.obj.createdAt;
    }
    if (best === null || updatedAt > best.updatedAt) best = { g, updatedAt };
  }
  if (best === null) {
    const what = [
      target.generation !== undefined ? `generation ${target.generation}` : "",
      target.index !== undefined ? `WAL index ${hex8(target.index)}` : "",
      ts !== undefined ? `time ${new Date(ts).toISOString()}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    throw notFound(
      `no Litestream v0.3 snapshot in ${where}${what ? ` at or before ${what}` : ""}`,
      "list the generations under generations/ in the replica; pick a later --index or --timestamp",
    );
  }
  const g = best.g;
  let snapshot: V3Snapshot | undefined;
  for (const s of g.snapshots) if (okTime(s.obj) && okIndex(s.index)) snapshot = s;
  const snap = snapshot!;

  const groups = new Map<number, V3Segment[]>();
  for (const seg of g.segments) {
    if (seg.index < snap.index || !okIndex(seg.index) || !okTime(seg.obj)) continue;
    const list = groups.get(seg.index) ?? [];
    list.push(seg);
    groups.set(seg.index, list);
  }
  const wal = [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([index, segments]) => ({ index, segments }));
  let expect = snap.index;
  for (const w of wal) {
    if (w.index !== expect) {
      throw new WalshipError(
        "replica_gap",
        `generation ${g.id} in ${where}: WAL index ${hex8(expect)} is missing (next is ${hex8(w.index)})`,
        {
          op: "legacy restore plan",
          context: { generation: g.id, index: expect },
          hint: `restore up to the gap with --generation ${g.id} --index ${hex8(Math.max(snap.index, expect - 1))}`,
        },
      );
    }
    if (w.segments[0]!.offset !== 0) {
      throw new WalshipError(
        "replica_gap",
        `generation ${g.id} in ${where}: WAL index ${hex8(w.index)} has no segment at offset 0 (first is ${w.segments[0]!.offset})`,
        { op: "legacy restore plan", context: { generation: g.id, index: w.index } },
      );
    }
    expect++;
  }
  const last = wal.at(-1)?.index ?? snap.index;
  if (target.index !== undefined && last < target.index) {
    throw notFound(
      `WAL index ${hex8(target.index)} is not available in generation ${g.id} of ${where} (newest: ${hex8(last)})`,
      "pick an index that exists (file names under generations/<id>/wal/ are <index>_<offset>.wal.lz4)",
    );
  }
  let bytes = snap.obj.size;
  for (const w of wal) for (const s of w.segments) bytes += s.obj.size;
  return { generation: g.id, snapshot: snap, wal, index: last, bytes };
}
