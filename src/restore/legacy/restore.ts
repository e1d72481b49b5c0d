/**
 * Restore of a Litestream v0.3 replica (`generations/...`, litestream-v05.md §15), so a v0.3 user can move
 * to walship without losing history:
 *
 *   1. plan (layout.ts): generation, snapshot, then the WAL indexes from the snapshot's on;
 *   2. the snapshot's LZ4 frame is decoded, streaming, into `<out>.tmp`;
 *   3. for each WAL index, its segments are decoded and concatenated into `<out>.tmp-wal` (offsets must be
 *      contiguous), the WAL is validated (header, salts, running checksums, ends on a commit), and SQLite
 *      itself applies it: open `<out>.tmp`, `PRAGMA wal_checkpoint(TRUNCATE)`, which must checkpoint every
 *      valid frame;
 *   4. fsync, optional integrity check, rename over `<out>`, fsync the directory.
 *
 * When is a replica restored this way (chooseLegacy)? As Litestream v0.5 decides (§9.1 step 6): when
 * --generation or --index is given; otherwise, for restores without --txid, when the replica has v0.3
 * generations and no LTX files, or its v0.3 data is newer than its LTX data (for --timestamp: its best
 * snapshot before the time is newer than the best LTX snapshot).
 */
import { existsSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { throwIfAborted, WalshipError } from "../../errors.js";
import { type LtxFileInfo, type ReplicaClient, SNAPSHOT_LEVEL } from "../../replica/client.js";
import { WAL_HEADER_SIZE, walFrameSize } from "../../wal/header.js";
import { scanWal } from "../../wal/reader.js";
import type { RestoreOptions, RestoreResult } from "../restore.js";
import { type LegacyPlan, listGenerations, planLegacyRestore, type V3Generation } from "./layout.js";
import { decodeLz4FrameStream } from "./lz4-stream.js";
import { type RawReplica, rawReplicaFor } from "./raw.js";

export interface LegacyRestoreInfo {
  generation: string;
  /** The WAL index the database was restored to. */
  index: number;
  snapshotIndex: number;
  /** WAL segments applied. */
  segments: number;
  /** Compressed bytes downloaded. */
  bytes: number;
}

const SIDE_FILES = ["-wal", "-shm", "-journal"];
const AGE_MAGIC = Buffer.from("age-encryption.org/v1");
const SQLITE_MAGIC = Buffer.from("SQLite format 3\0");

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function usage(message: string, hint?: string): WalshipError {
  return new WalshipError("usage", message, { op: "legacy restore", hint });
}

/** The newest createdAt among LTX files (optionally only L9 snapshots created before `before`). */
function newestLtx(levels: Map<number, LtxFileInfo[]>, before?: number): number | null {
  let best: number | null = null;
  for (const [level, files] of levels) {
    if (before !== undefined && level !== SNAPSHOT_LEVEL) continue;
    for (const f of files) {
      if (before !== undefined && f.createdAt >= before) continue;
      if (best === null || f.createdAt > best) best = f.createdAt;
    }
  }
  return best;
}

function newestV3(gens: V3Generation[], before?: number): number | null {
  let best: number | null = null;
  for (const g of gens) {
    const objs = before === undefined ? [...g.snapshots, ...g.segments] : g.snapshots;
    for (const o of objs) {
      if (before !== undefined && o.obj.createdAt > before) continue;
      if (best === null || o.obj.createdAt > best) best = o.obj.createdAt;
    }
  }
  return best;
}

/**
 * Restores from the v0.3 layout when that is what the replica and the options call for (see the module
 * comment); null means "restore the LTX data as usual". Output checks (exists, --force) are the caller's.
 */
export async function chooseLegacy(
  client: ReplicaClient,
  levels: Map<number, LtxFileInfo[]>,
  opts: RestoreOptions,
): Promise<RestoreResult | null> {
  const explicit = opts.generation !== undefined || opts.index !== undefined;
  if (explicit && opts.txid !== undefined) {
    throw usage(
      "--txid cannot be combined with --generation/--index",
      "--txid selects LTX files; --generation/--index select Litestream v0.3 backups",
    );
  }
  if (!explicit && opts.txid !== undefined) return null;
  const raw = rawReplicaFor(client);
  if (raw === null) {
    if (explicit) throw usage(`Litestream v0.3 restore is not supported for ${client.type} replicas`);
    return null;
  }
  const gens = await listGenerations(raw, { signal: opts.signal });
  if (gens.length === 0) {
    if (explicit) {
      throw new WalshipError("replica_not_found", `no Litestream v0.3 generations in ${raw.location}`, {
        op: "legacy restore plan",
        hint: "--generation/--index apply to v0.3 backups (generations/<id>/...); drop them to restore LTX files",
      });
    }
    return null;
  }
  if (!explicit) {
    const ltx = newestLtx(levels, opts.timestamp);
    const v3 = newestV3(gens, opts.timestamp);
    if (v3 === null) return null;
    if (ltx !== null && v3 <= ltx) return null;
  }
  return restoreLegacy(raw, gens, opts);
}

export async function restoreLegacy(
  raw: RawReplica,
  gens: V3Generation[],
  opts: RestoreOptions,
): Promise<RestoreResult> {
  const out = opts.output;
  const plan = planLegacyRestore(
    gens,
    { generation: opts.generation, index: opts.index, timestamp: opts.timestamp },
    raw.location,
  );
  const info: LegacyRestoreInfo = {
    generation: plan.generation,
    index: plan.index,
    snapshotIndex: plan.snapshot.index,
    segments: plan.wal.reduce((n, w) => n + w.segments.length, 0),
    bytes: plan.bytes,
  };
  if (opts.dryRun) return { status: "planned", files: [], output: out, legacy: info };

  const dir = dirname(out);
  await mkdir(dir, { recursive: true });
  const tmp = `${out}.tmp`;
  const clean = async () => {
    for (const s of SIDE_FILES) await rm(tmp + s, { force: true });
  };
  await rm(tmp, { force: true });
  await clean();
  let done = 0;
  let filesDone = 0;
  /** n bytes downloaded; n < 0 marks one more object finished. */
  const progress = (n: number) => {
    if (n < 0) filesDone++;
    else done += n;
    opts.onProgress?.({ bytesDone: done, bytesTotal: plan.bytes, filesDone, filesTotal: 1 + info.segments });
  };
  try {
    const pageSize = await writeSnapshot(raw, plan, tmp, opts.signal, progress);
    for (const w of plan.wal) {
      await applyWalIndex(raw, plan.generation, w, tmp, pageSize, opts.signal, progress);
    }
    const fh = await open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.integrityCheck && opts.integrityCheck !== "none") integrityCheck(tmp, opts.integrityCheck);
    await clean();
    if (opts.force) for (const s of SIDE_FILES) await rm(out + s, { force: true });
    await rename(tmp, out);
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await clean();
  }
  return { status: "restored", files: [], output: out, legacy: info };
}

/** Decodes the snapshot into `tmp`; returns the database page size. */
async function writeSnapshot(
  raw: RawReplica,
  plan: LegacyPlan,
  tmp: string,
  signal: AbortSignal | undefined,
  progress: (n: number) => void,
): Promise<number> {
  const obj = plan.snapshot.obj;
  const what = `${raw.location}/${obj.key}`;
  const fh = await open(tmp, "w");
  let size = 0;
  let head: Uint8Array | undefined;
  try {
    const counted = countBytes(raw.readRaw(obj, { signal }), progress, (first) => {
      if (Buffer.from(first.subarray(0, AGE_MAGIC.length)).equals(AGE_MAGIC)) {
        throw new WalshipError("ltx_unsupported", `${what} is encrypted with age`, {
          op: "legacy restore",
          hint: "walship cannot decrypt age-encrypted Litestream v0.3 backups; restore it with Litestream v0.3 first",
        });
      }
    });
    for await (const chunk of decodeLz4FrameStream(counted, { what })) {
      throwIfAborted(signal, "legacy restore");
      if (head === undefined) head = new Uint8Array(chunk.subarray(0, 100));
      let at = 0;
      while (at < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, at, chunk.length - at);
        at += bytesWritten;
      }
      size += chunk.length;
    }
  } finally {
    await fh.close();
  }
  if (head === undefined || head.length < 100 || !Buffer.from(head.subarray(0, 16)).equals(SQLITE_MAGIC)) {
    throw new WalshipError("db_invalid", `${what} does not hold a SQLite database`, {
      op: "legacy restore",
      hint: "the snapshot is damaged; restore from another generation with --generation",
    });
  }
  const raw16 = (head[16]! << 8) | head[17]!;
  const pageSize = raw16 === 1 ? 65536 : raw16;
  if (size % pageSize !== 0) {
    throw new WalshipError(
      "db_invalid",
      `${what} decodes to ${size} bytes, not a whole number of ${pageSize}-byte pages`,
      { op: "legacy restore" },
    );
  }
  return pageSize;
}

async function* countBytes(
  src: AsyncIterable<Uint8Array>,
  progress: (n: number) => void,
  first?: (chunk: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  let seen = false;
  for await (const c of src) {
    if (!seen && first) first(c);
    seen = true;
    progress(c.length);
    yield c;
  }
  progress(-1);
}

/** Rebuilds one shadow WAL file from its segments next to `tmp` and has SQLite checkpoint it in. */
async function applyWalIndex(
  raw: RawReplica,
  generation: string,
  w: LegacyPlan["wal"][number],
  tmp: string,
  pageSize: number,
  signal: AbortSignal | undefined,
  progress: (n: number) => void,
): Promise<void> {
  const walPath = `${tmp}-wal`;
  await rm(`${tmp}-shm`, { force: true });
  const ctx = { generation, index: w.index };
  const fh = await open(walPath, "w");
  let written = 0;
  try {
    for (const seg of w.segments) {
      if (seg.offset !== written) {
        throw new WalshipError(
          "replica_gap",
          `generation ${generation} WAL index ${hex8(w.index)}: segment at offset ${seg.offset} does not follow the previous segments (which end at ${written})`,
          { op: "legacy restore", context: { ...ctx, offset: seg.offset } },
        );
      }
      const what = `${raw.location}/${seg.obj.key}`;
      for await (const chunk of decodeLz4FrameStream(countBytes(raw.readRaw(seg.obj, { signal }), progress), {
        what,
      })) {
        throwIfAborted(signal, "legacy restore");
        let at = 0;
        while (at < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, at, chunk.length - at);
          at += bytesWritten;
        }
        written += chunk.length;
      }
    }
  } finally {
    await fh.close();
  }

  // Validate before SQLite sees it: SQLite silently ignores a WAL whose header or frames do not check out,
  // which would restore an older state without a word.
  const rfh = await open(walPath, "r");
  let frames: number;
  try {
    const scan = await scanWal(rfh, { path: walPath });
    if (scan.status === "empty") {
      throw new WalshipError(
        "wal_invalid",
        `generation ${generation} WAL index ${hex8(w.index)} has no WAL header`,
        {
          op: "legacy restore",
          context: ctx,
        },
      );
    }
    if (scan.header.pageSize !== pageSize) {
      throw new WalshipError(
        "wal_invalid",
        `generation ${generation} WAL index ${hex8(w.index)} has page size ${scan.header.pageSize}, the snapshot ${pageSize}`,
        { op: "legacy restore", context: ctx },
      );
    }
    if (scan.end !== written) {
      throw new WalshipError(
        "wal_invalid",
        `generation ${generation} WAL index ${hex8(w.index)}: only ${scan.end} of ${written} bytes are valid committed frames (${scan.stopReason})`,
        {
          op: "legacy restore",
          context: { ...ctx, offset: scan.end },
          hint: `the backup is damaged there; restore an earlier index with --generation ${generation} --index ${hex8(Math.max(0, w.index - 1))}`,
        },
      );
    }
    frames = (scan.end - WAL_HEADER_SIZE) / walFrameSize(pageSize);
  } finally {
    await rfh.close();
  }

  // FULL reports the frames it saw and copied; TRUNCATE (which reports 0/0 once it has emptied the WAL)
  // then leaves no WAL behind.
  const db = new Database(tmp);
  try {
    type Row = { busy: number; log: number; checkpointed: number };
    const full = (db.pragma("wal_checkpoint(FULL)") as Row[])[0];
    const trunc = (db.pragma("wal_checkpoint(TRUNCATE)") as Row[])[0];
    if (full?.busy !== 0 || full.log !== frames || full.checkpointed !== frames || trunc?.busy !== 0) {
      throw new WalshipError(
        "wal_invalid",
        `generation ${generation} WAL index ${hex8(w.index)}: SQLite checkpointed ${full?.checkpointed ?? "?"} of ${frames} frames (busy=${full?.busy ?? "?"}, log=${full?.log ?? "?"})`,
        { op: "legacy restore", context: ctx },
      );
    }
  } finally {
    db.close();
  }
  if (existsSync(walPath)) await rm(walPath, { force: true });
}

function integrityCheck(path: string, mode: "quick" | "full"): void {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare(mode === "quick" ? "PRAGMA quick_check" : "PRAGMA integrity_check")
      .all() as Array<Record<string, string>>;
    const msgs = rows.map((r) => Object.values(r)[0]);
    if (msgs.length !== 1 || msgs[0] !== "ok") {
      throw new WalshipError(
        "ltx_invalid",
        `restored database failed ${mode} check: ${msgs.slice(0, 3).join("; ")}`,
        {
          op: "legacy restore integrity check",
          context: { path },
          hint: "the v0.3 backup is damaged; try an earlier --index or another --generation",
        },
      );
    }
  } finally {
    db.close();
  }
}
