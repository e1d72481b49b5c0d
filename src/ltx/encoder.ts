/**
 * Streaming, synchronous LTX encoder (spec §10.1), byte-compatible with superfly/ltx v0.5.2. The caller
 * writes header(), each encodePage() result and finish().bytes in that order; the encoder keeps only the
 * page index and running checksums, never page data.
 */
import { formatChecksum as hex } from "./checksum.js";
import { CHECKSUM_FLAG, Crc64, pageChecksum } from "./crc64.js";
import { FrameWriter, PAGE_HEADER_SIZE } from "./frame.js";
import { encodeHeader, isChecksumTracked, isSnapshot, type LtxHeader } from "./header.js";
import { ltxError, usageBug } from "./ltx-error.js";
import { encodePageIndex, type PageIndexEntry } from "./page-index.js";
import { PageOrder } from "./page-order.js";
import { TRAILER_SIZE, validatePostApply } from "./trailer.js";

export interface LtxEncoderOptions {
  /**
   * Write legacy per-page LZ4 frames (page flags 0) instead of size-prefixed blocks, for replicas that
   * Litestream v0.5.0–v0.5.15 must still read (§8.4).
   */
  legacyFrames?: boolean;
}

export interface LtxEncodeResult {
  /** End marker, page index and trailer: the last bytes of the file. */
  bytes: Uint8Array;
  postApplyChecksum: bigint;
  fileChecksum: bigint;
  /** Total file size in bytes. */
  size: number;
  index: PageIndexEntry[];
}

const END_MARKER = new Uint8Array(PAGE_HEADER_SIZE);

export class LtxEncoder {
  readonly hdr: Readonly<LtxHeader>;
  private readonly headerBytes: Uint8Array;
  private readonly frames: FrameWriter;
  private readonly crc = new Crc64();
  private readonly order: PageOrder;
  private readonly snapshot: boolean;
  private readonly tracked: boolean;
  private readonly index: PageIndexEntry[] = [];
  private offset: number;
  /** XOR of page checksums; a tracked snapshot's post-apply is derived from it. */
  private pagesXor = 0n;
  private state: "new" | "pages" | "closed" = "new";

  constructor(header: LtxHeader, opts: LtxEncoderOptions = {}) {
    this.headerBytes = encodeHeader(header);
    this.hdr = { ...header };
    this.frames = new FrameWriter(header.pageSize, opts.legacyFrames === true);
    this.order = new PageOrder(header);
    this.snapshot = isSnapshot(header);
    this.tracked = isChecksumTracked(header);
    this.offset = this.headerBytes.length;
    this.crc.update(this.headerBytes);
  }

  /** The 100 header bytes; must be called (and written) before the first page. */
  header(): Uint8Array {
    if (this.state === "closed") throw usageBug("LTX encoder is closed");
    this.state = "pages";
    return this.headerBytes.slice();
  }

  /** Encodes one page and returns its frame; `data` is not retained. */
  encodePage(pgno: number, data: Uint8Array): Uint8Array {
    if (this.state !== "pages") throw usageBug(`LTX encoder: encodePage() called ${this.stateHint()}`);
    this.checkPage(pgno, data);
    const frame = this.frames.encode(pgno, data);
    const headerLen = this.frames.legacy ? PAGE_HEADER_SIZE : PAGE_HEADER_SIZE + 4;
    this.crc.update(frame, 0, headerLen);
    this.crc.update(data);
    if (this.snapshot && this.tracked) this.pagesXor ^= pageChecksum(pgno, data);
    this.index.push({ pgno, offset: this.offset, size: frame.length });
    this.offset += frame.length;
    return frame;
  }

  /**
   * Closes the file. For NoChecksum files the post-apply must be absent or 0. For tracked snapshots it is
   * computed (a supplied value must match); tracked incrementals need the caller's value; Commit 0 is FLAG.
   */
  finish(postApplyChecksum?: bigint): LtxEncodeResult {
    if (this.state !== "pages") throw usageBug(`LTX encoder: finish() called ${this.stateHint()}`);
    const h = this.hdr;
    this.order.finish();
    const post = this.resolvePostApply(postApplyChecksum);
    validatePostApply(h, post);
    const index = encodePageIndex(this.index);
    const bytes = new Uint8Array(END_MARKER.length + index.length + TRAILER_SIZE);
    bytes.set(END_MARKER, 0);
    bytes.set(index, END_MARKER.length);
    const view = new DataView(bytes.buffer);
    const trailerAt = END_MARKER.length + index.length;
    view.setBigUint64(trailerAt, post);
    this.crc.update(bytes, 0, trailerAt + 8);
    const fileChecksum = CHECKSUM_FLAG | this.crc.digest();
    view.setBigUint64(trailerAt + 8, fileChecksum);
    this.state = "closed";
    return {
      bytes,
      postApplyChecksum: post,
      fileChecksum,
      size: this.offset + bytes.length,
      index: this.index.slice(),
    };
  }

  private resolvePostApply(given: bigint | undefined): bigint {
    const h = this.hdr;
    if (!this.tracked) {
      if (given !== undefined && given !== 0n) {
        throw ltxError("ltx_invalid", "postApplyChecksum: not allowed when the NoChecksum flag is set", {
          field: "postApplyChecksum",
        });
      }
      return 0n;
    }
    if (h.commit === 0) return given ?? CHECKSUM_FLAG;
    if (this.snapshot) {
      const computed = CHECKSUM_FLAG | this.pagesXor;
      if (given !== undefined && given !== computed) {
        throw ltxError(
          "ltx_checksum",
          `postApplyChecksum: given ${hex(given)} but the snapshot's pages give ${hex(computed)}`,
          { field: "postApplyChecksum" },
        );
      }
      return computed;
    }
    if (given === undefined) {
      throw ltxError(
        "ltx_invalid",
        "postApplyChecksum: required to finish a checksum-tracked incremental file",
        {
          field: "postApplyChecksum",
        },
      );
    }
    return given;
  }

  /** Length first: accept() advances the ordering state, so it must be the last check that can fail. */
  private checkPage(pgno: number, data: Uint8Array): void {
    if (data.length !== this.hdr.pageSize) {
      throw ltxError(
        "ltx_invalid",
        `page ${pgno}: data is ${data.length} bytes, page size is ${this.hdr.pageSize}`,
        {
          field: "pageData",
          pgno,
        },
      );
    }
    this.order.accept(pgno);
  }

  private stateHint(): string {
    return this.state === "new" ? "before header()" : "after finish()";
  }
}

/** Whole-file convenience for tests, tools and small files: header, pages in order, trailer. */
export function encodeLtx(
  header: LtxHeader,
  pages: Iterable<{ pgno: number; data: Uint8Array }>,
  opts: LtxEncoderOptions & { postApplyChecksum?: bigint } = {},
): { bytes: Uint8Array; result: LtxEncodeResult } {
  const enc = new LtxEncoder(header, opts);
  const parts: Uint8Array[] = [enc.header()];
  for (const p of pages) parts.push(enc.encodePage(p.pgno, p.data));
  const result = enc.finish(opts.postApplyChecksum);
  parts.push(result.bytes);
  const out = new Uint8Array(result.size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return { bytes: out, result };
}
