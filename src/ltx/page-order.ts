/**
 * Page ordering rules of §3.3, shared by the encoder (which Go enforces) and the decoder (which Go does
 * not, but a file breaking them cannot be restored): 1 ≤ pgno ≤ Commit, never the lock page, strictly
 * ascending, and for snapshots exactly 1..Commit without the lock page.
 */
import { isSnapshot, type LtxHeader, lastSnapshotPgno, lockPgno } from "./header.js";
import { ltxError } from "./ltx-error.js";

export class PageOrder {
  private readonly commit: number;
  private readonly pageSize: number;
  private readonly lock: number;
  private readonly snapshot: boolean;
  private prev = 0;

  constructor(h: LtxHeader) {
    this.commit = h.commit;
    this.pageSize = h.pageSize;
    this.lock = lockPgno(h.pageSize);
    this.snapshot = isSnapshot(h);
  }

  /** Pgno of the last accepted page; 0 before the first. */
  get last(): number {
    return this.prev;
  }

  /** Throws unless pgno may come next; `offset` (file offset of the frame) is error context only. */
  accept(pgno: number, offset?: number): void {
    const ctx = { field: "pgno", offset, pgno };
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > 0xffffffff) {
      throw ltxError("ltx_invalid", `page number ${pgno} is not a valid pgno`, ctx);
    }
    if (pgno > this.commit) {
      throw ltxError("ltx_invalid", `page number ${pgno} out-of-bounds for commit size ${this.commit}`, ctx);
    }
    if (pgno === this.lock) throw ltxError("ltx_invalid", `lock page ${pgno} must never be stored`, ctx);
    if (this.snapshot) {
      const expected = this.prev + 1 === this.lock ? this.prev + 2 : this.prev + 1;
      if (pgno !== expected) {
        throw ltxError(
          "ltx_invalid",
          `snapshot pages must be contiguous: expected page ${expected}, got ${pgno}`,
          ctx,
        );
      }
    } else if (pgno <= this.prev) {
      throw ltxError("ltx_invalid", `out-of-order page numbers: ${this.prev},${pgno}`, ctx);
    }
    this.prev = pgno;
  }

  /** At the end of the pages: a snapshot must have reached its Commit (§6.6). */
  finish(offset?: number): void {
    if (!this.snapshot) return;
    if (this.prev !== lastSnapshotPgno(this.commit, this.pageSize)) {
      throw ltxError(
        "ltx_invalid",
        `snapshot is incomplete: last page is ${this.prev}, commit is ${this.commit}`,
        {
          field: "commit",
          offset,
        },
      );
    }
  }
}
