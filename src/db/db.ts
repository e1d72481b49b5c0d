/**
 * One watched database: turns newly committed WAL frames into level-0 LTX files in local staging, owns
 * checkpoints, and produces full-database images for snapshots.
 *
 * Position model: `walMap` maps every page written in the current WAL generation (frames [32, pos.offset))
 * to the offset of its latest committed image. A page's state at the current TXID is its walMap image if
 * it has one, else the database file's page. That holds because a checkpoint cannot copy frames newer than
 * walship's read mark into the database file, and the read mark never passes what walship has read.
 *
 * Continuity: a new WAL generation (changed salts) or a truncated WAL is a clean continuation when walship
 * has held its read transaction since it last read to the end of the WAL: frames past its read mark cannot
 * be checkpointed, and SQLite restarts the WAL only once every frame is checkpointed, so no frame walship
 * has not read can be lost. Otherwise (at start-up, or after an emergency TRUNCATE that ran without the
 * barrier) the next file holds every page.
 */
import type { FileHandle } from "node:fs/promises";
import type { Clock } from "../clock.js";
import { WalshipError } from "../errors.js";
import { LtxEncoder } from "../ltx/encoder.js";
import { HEADER_FLAG_NO_CHECKSUM, type LtxHeader } from "../ltx/header.js";
import type { SqliteDriver } from "../sqlite/handle.js";
import { parseWalHeader, WAL_HEADER_SIZE, walFrameSize } from "../wal/header.js";
import { readPage, scanWal, type WalPosition, type WalScan } from "../wal/reader.js";
import { DbConnection } from "./connection.js";
import { addHeld, type Held } from "./held.js";
import { openImage, type PageSource } from "./image.js";
import {
  allPages,
  type CaughtUp,
  catchUpSync,
  changedPages,
  isZero,
  openWal,
  readAt,
  readStagedHeader,
  sameHeader,
  walEndsAtSync,
} from "./pages.js";
import { Staging } from "./staging.js";

export interface DbOptions {
  path: string;
  metaDir: string;
  busyTimeoutMs: number;
  clock: Clock;
  driver?: SqliteDriver;
}

export interface SyncResult {
  txid: bigint;
  commit: number;
  pages: number;
  full: boolean;
  walBytes: number;
  path: string;
}

/** Rounds of "read to the end, take the lock, confirm nothing new" before a checkpoint is left to the next tick. */
const BARRIER_ATTEMPTS = 5;
/**
 * Most WAL bytes read and held in memory under the checkpoint barrier (what was committed between the last
 * capture and the lock; normally a few pages). More than this and the checkpoint waits for a later tick.
 */
const MAX_HELD_BYTES = 16 * 1024 * 1024;

export type { PageSource } from "./image.js";

export class Db {
  readonly path: string;
  readonly staging: Staging;
  private readonly clock: Clock;
  private readonly conn: DbConnection;
  readonly pageSize: number;

  txid = 0n;
  commit = 0;
  private pos: WalPosition | null = null;
  private walMap = new Map<number, number>();
  /** True when the next file must hold every page (continuity cannot be proven). */
  private needFull = true;
  /** True while walship has held its read transaction since it last read to the end of the WAL. */
  private continuous = false;
  /** WAL bytes in the current generation that walship has read (for checkpoint thresholds). */
  walBytes = 0;

  constructor(opts: DbOptions) {
    this.path = opts.path;
    this.clock = opts.clock;
    this.conn = new DbConnection(opts.path, { busyTimeoutMs: opts.busyTimeoutMs, driver: opts.driver });
    this.pageSize = this.conn.pageSize;
    this.staging = new Staging(opts.metaDir);
  }

  /**
   * Works out where the TXID chain stands: the newest staged file and the replica's highest TXID.
   * The next file gets max(local, remote) + 1 and is incremental only when the staged file's WAL position
   * is still valid in the current WAL (same salts, file long enough).
   */
  async resume(remoteTXID: bigint): Promise<void> {
    this.conn.ensureHelperTables();
    this.staging.ensure();
    await this.staging.cleanTemp();
    const staged = await this.staging.list();
    const last = staged[staged.length - 1];
    let hdr: LtxHeader | null = null;
    if (last) {
      try {
        hdr = await readStagedHeader(last.path);
      } catch {
        // A damaged staged file cannot anchor a position; drop it and start from a full file.
        await this.staging.remove(last);
        return this.resume(remoteTXID);
      }
    }
    const local = hdr ? hdr.maxTXID : 0n;
    this.txid = local > remoteTXID ? local : remoteTXID;
    this.commit = hdr?.commit ?? 0;
    this.needFull = true;
    this.conn.beginRead();
    if (hdr && local >= remoteTXID && hdr.walOffset > 0n) {
      const offset = Number(hdr.walOffset + hdr.walSize);
      const anchored = await this.anchor(offset, hdr.walSalt1, hdr.walSalt2);
      if (anchored) this.needFull = false;
    }
  }

  /** Rebuilds walMap for [32, offset) of the current WAL when it is still the generation of the salts. */
  private async anchor(offset: number, salt1: number, salt2: number): Promise<boolean> {
    const fh = await openWal(this.path);
    if (!fh) return false;
    try {
      const head = await readAt(fh, 0, WAL_HEADER_SIZE);
      if (head.length < WAL_HEADER_SIZE) return false;
      const h = parseWalHeader(head);
      if (h.salt1 !== salt1 || h.salt2 !== salt2 || h.pageSize !== this.pageSize) return false;
      const scan = await scanWal(fh, { maxBytes: offset - WAL_HEADER_SIZE });
      if (scan.end < offset) return false;
      if (scan.end > offset) {
        // The limit stops at a commit boundary past `offset` only if our position was not on one.
        return false;
      }
      this.walMap = new Map(scan.pages);
      this.pos = scan.position;
      this.walBytes = offset - WAL_HEADER_SIZE;
      // Not continuous yet: frames past `offset` may be unread, and if another connection checkpointed
      // them all while walship was down, its read transaction sits on read mark 0, which lets the app
      // restart the WAL over them. Continuity holds only from the first sync that reads to the end.
      this.continuous = false;
      return true;
    } catch {
      return false;
    } finally {
      await fh.close();
    }
  }

  /** Forces the next file to hold every page. */
  requestFull(): void {
    this.needFull = true;
  }

  /**
   * Reads newly committed frames and stages one L0 file with the next TXID, or returns null when nothing
   * was committed. Retries when the WAL restarts while pages are being read.
   */
  async sync(): Promise<SyncResult | null> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.syncOnce();
      if (r !== "retry") return r;
      if (attempt >= 3) {
        throw new WalshipError("wal_invalid", "WAL kept restarting while it was being read", {
          op: "sync",
          context: { db: this.path },
          retryable: true,
        });
      }
    }
  }

  private async syncOnce(): Promise<SyncResult | null | "retry"> {
    // Continuity rests on a read transaction held since the last read to the end of the WAL.
    if (!this.conn.holdsRead) this.continuous = false;
    this.conn.beginRead();
    const fh = await openWal(this.path);
    try {
      const head = fh ? await readAt(fh, 0, WAL_HEADER_SIZE) : new Uint8Array(0);
      let scan: WalScan | null = null;
      let salts: [number, number] = [0, 0];
      if (fh && head.length === WAL_HEADER_SIZE && !isZero(head)) {
        const h = parseWalHeader(head);
        salts = [h.salt1, h.salt2];
        const sameGen = this.pos !== null && this.pos.salt1 === h.salt1 && this.pos.salt2 === h.salt2;
        scan = await scanWal(fh, sameGen && this.pos ? { from: this.pos } : {});
        if (scan.status !== "ok" || !sameGen) {
          if (sameGen) {
            // Cut short with the same salts: SQLite never does that (a restart changes the salts), so
            // something outside SQLite rewrote the WAL; read it afresh and prove nothing by continuity.
            scan = await scanWal(fh, {});
            this.needFull = true;
          }
          if (!this.continuous) this.needFull = true;
          this.walMap = new Map();
          this.walBytes = 0;
        }
      } else {
        // No WAL content: everything is in the database file.
        if (this.pos !== null && !this.continuous) this.needFull = true;
        this.walMap = new Map();
        this.pos = null;
        this.walBytes = 0;
      }

      const held = this.held;
      const committed = (scan !== null && scan.txCount > 0) || held !== null;
      const full = this.needFull || this.txid === 0n;
      if (!committed && !full) {
        if (scan) this.pos = scan.position;
        this.continuous = true;
        return null;
      }
      const prevCommit = held ? held.prevCommit : this.commit;
      // Without new commits the size is the last TXID's, unless there is no WAL content at all, when the
      // database file itself is the whole state.
      const commit =
        scan && scan.txCount > 0
          ? scan.commit
          : held
            ? held.commit
            : this.pos !== null && this.commit > 0
              ? this.commit
              : this.conn.fileCommit();
      const txid = this.txid + 1n;
      const changed = full
        ? null
        : changedPages(
            [...(scan?.pages.keys() ?? []), ...(held?.pages.keys() ?? [])],
            prevCommit,
            commit,
            this.pageSize,
          );
      const merged = new Map(this.walMap);
      if (scan) for (const [pg, off] of scan.pages) merged.set(pg, off);

      // Held pages are older than anything the scan found: the scan's images win, held ones fill in.
      const overlay = new Map<number, Uint8Array>();
      if (held) for (const [pg, data] of held.pages) if (!scan?.pages.has(pg)) overlay.set(pg, data);
      const walFrom =
        scan && scan.end > scan.start ? scan : held ? { start: held.start, end: held.end } : scan;
      const walSalts: [number, number] =
        scan && scan.end > scan.start ? salts : held ? [held.salt1, held.salt2] : salts;
      const header: LtxHeader = {
        flags: HEADER_FLAG_NO_CHECKSUM,
        pageSize: this.pageSize,
        commit,
        minTXID: txid,
        maxTXID: txid,
        timestamp: BigInt(this.clock.now()),
        preApplyChecksum: 0n,
        walOffset: walFrom ? BigInt(walFrom.start) : 0n,
        walSize: walFrom ? BigInt(walFrom.end - walFrom.start) : 0n,
        walSalt1: walFrom ? walSalts[0] : 0,
        walSalt2: walFrom ? walSalts[1] : 0,
        nodeID: 0n,
      };
      let count = 0;
      const pgnos = changed ?? allPages(commit, this.pageSize);
      // The WAL header is checked again before the file becomes visible: if the WAL restarted while its
      // pages were read, the file may hold new-generation bytes and must never reach the uploader.
      const path = await this.staging.write(
        txid,
        txid,
        this.encode(header, pgnos, merged, overlay, fh, () => {
          count++;
        }),
        async () => !(fh && head.length === WAL_HEADER_SIZE) || sameHeader(fh, head),
      );
      if (path === null) {
        // The frames this attempt read were overwritten before they were staged: only a file with every
        // page is sure to carry what they changed.
        this.walMap = new Map();
        this.pos = null;
        this.continuous = false;
        return "retry";
      }
      this.walMap = merged;
      if (scan) {
        this.pos = scan.position;
        this.walBytes = scan.end - WAL_HEADER_SIZE;
      }
      this.txid = txid;
      this.commit = commit;
      this.held = null;
      this.needFull = false;
      this.continuous = true;
      return { txid, commit, pages: count, full, walBytes: this.walBytes, path };
    } finally {
      await fh?.close();
    }
  }

  private async *encode(
    header: LtxHeader,
    pgnos: Iterable<number>,
    map: Map<number, number>,
    overlay: Map<number, Uint8Array>,
    fh: FileHandle | null,
    onPage: () => void,
  ): AsyncGenerator<Uint8Array> {
    const enc = new LtxEncoder(header);
    yield enc.header();
    const buf = new Uint8Array(this.pageSize);
    for (const pgno of pgnos) {
      const data = overlay.get(pgno) ?? (await this.readPageInto(pgno, map, fh, buf));
      onPage();
      yield enc.encodePage(pgno, data);
    }
    yield enc.finish().bytes;
  }

  private async readPageInto(
    pgno: number,
    map: Map<number, number>,
    fh: FileHandle | null,
    buf: Uint8Array,
  ): Promise<Uint8Array> {
    const off = map.get(pgno);
    if (off !== undefined && fh) return readPage(fh, off, this.pageSize, buf);
    return this.conn.readDbPage(pgno, buf);
  }

  /**
   * A consistent image of the database at the current TXID, for snapshots. Call right after sync() with
   * no sync in between until the generator is done (the caller serialises them).
   */
  async imageSource(): Promise<PageSource> {
    const buf = new Uint8Array(this.pageSize);
    return openImage({
      db: this.path,
      pageSize: this.pageSize,
      commit: this.commit,
      txid: this.txid,
      walMap: this.walMap,
      generation: this.pos,
      readPage: (pgno, map, fh) => this.readPageInto(pgno, map, fh, buf),
    });
  }

  /**
   * Checkpoint under the barrier. PASSIVE: read the WAL to its end, take the write lock, confirm that no
   * frame was committed since, release the read mark, checkpoint, re-take the read mark, release the lock;
   * a later WAL restart is then a clean continuation. Everything between taking and releasing the lock is
   * synchronous: an app in the same process writing through a synchronous driver blocks the event loop
   * while it waits for the lock, so an await under the lock would deadlock until its busy_timeout. When a
   * commit slipped in before the lock, the lock is released and the round repeated (bounded; a skipped
   * checkpoint is retried at the next tick). TRUNCATE (the emergency brake) needs the write lock itself, so
   * it runs without the barrier and the next file holds every page, written without blocking the app.
   */
  async checkpoint(
    mode: "PASSIVE" | "TRUNCATE",
  ): Promise<{ busy: number; log: number; checkpointed: number }> {
    if (mode === "PASSIVE") {
      for (let attempt = 0; attempt < BARRIER_ATTEMPTS; attempt++) {
        await this.sync();
        this.conn.takeBarrier();
        try {
          if (this.pos === null) {
            if (!walEndsAtSync(this.path, null, this.pageSize)) continue;
          } else {
            // Commits that slipped in before the lock are read now and held in memory for the next file.
            const caught = catchUpSync(this.path, this.pos, this.pageSize, MAX_HELD_BYTES);
            if (!caught) continue;
            if (caught.txCount > 0) this.hold(caught);
          }
          this.conn.endRead();
          let r: { busy: number; log: number; checkpointed: number };
          try {
            r = this.conn.checkpoint("PASSIVE");
          } finally {
            // Re-taken under the barrier (no commit can happen before it), so continuity is kept.
            this.beginReadOrBreak();
          }
          if (r.busy === 0 && r.log >= 0 && r.checkpointed === r.log) {
            // Every frame is in the database file now, so it alone is the state at this TXID. The read
            // transaction gets SQLite's read mark 0, which does not stop the app from restarting the
            // WAL over the frames walMap points at; and a mark-0 reader does stop any checkpoint from
            // changing the database file, so reading pages from it stays correct until the next capture.
            this.walMap = new Map();
          }
          return r;
        } finally {
          this.conn.releaseBarrier();
        }
      }
      return { busy: 1, log: -1, checkpointed: -1 };
    }
    await this.sync();
    this.conn.endRead();
    try {
      return this.conn.checkpoint("TRUNCATE");
    } finally {
      this.continuous = false;
      this.beginReadOrBreak();
    }
  }

  /** Takes the read transaction; if that fails, the next capture cannot rely on continuity. */
  private beginReadOrBreak(): void {
    try {
      this.conn.beginRead();
    } catch {
      // syncOnce takes it again (and, seeing it was not held, drops continuity).
      this.continuous = false;
    }
  }

  /** Pages committed after the last staged file, read under the checkpoint barrier (see checkpoint()). */
  private held: Held | null = null;

  private hold(c: CaughtUp): void {
    this.held = addHeld(this.held, c, this.commit, this.pos!);
    for (const [pgno, off] of c.offsets) this.walMap.set(pgno, off);
    this.pos = c.position;
    this.walBytes = c.end - WAL_HEADER_SIZE;
  }

  /** Bytes of the WAL file on disk right now (for metrics and the emergency threshold). */
  walPages(): number {
    return Math.floor(this.walBytes / walFrameSize(this.pageSize));
  }

  close(): void {
    this.conn.close();
  }
}
