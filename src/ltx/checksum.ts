/**
 * Database checksums (spec §5.3): FLAG | XOR over pages of crc64iso(u32BE(pgno) ‖ page), lock page
 * excluded. Because XOR is order-free and self-inverse, the value can be maintained page by page.
 */
import { CHECKSUM_FLAG, pageChecksum } from "./crc64.js";
import { lockPgno } from "./header.js";

export { CHECKSUM_FLAG, pageChecksum };

/**
 * Upstream main returns a bare 0 for an empty database but its encoder demands FLAG for Commit 0; we
 * follow the encoder (and the open fix for ltx#88) so that the empty-database value is never "absent".
 */
export const EMPTY_DATABASE_CHECKSUM = CHECKSUM_FLAG;

export function formatChecksum(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

/** Pages may come in any order; the lock page is skipped so callers can pass a raw image's pages. */
export function databaseChecksum(
  pages: Iterable<{ pgno: number; data: Uint8Array }>,
  pageSize: number,
): bigint {
  const lock = lockPgno(pageSize);
  let acc = 0n;
  for (const p of pages) {
    if (p.pgno === lock) continue;
    acc ^= pageChecksum(p.pgno, p.data);
  }
  return CHECKSUM_FLAG | acc;
}

/** Checksum of a database file image (length must be a whole number of pages). */
export function databaseImageChecksum(image: Uint8Array, pageSize: number): bigint {
  if (image.length % pageSize !== 0) {
    throw new RangeError(`database image length ${image.length} is not a multiple of page size ${pageSize}`);
  }
  const lock = lockPgno(pageSize);
  const n = image.length / pageSize;
  let acc = 0n;
  for (let pgno = 1; pgno <= n; pgno++) {
    if (pgno === lock) continue;
    acc ^= pageChecksum(pgno, image.subarray((pgno - 1) * pageSize, pgno * pageSize));
  }
  return CHECKSUM_FLAG | acc;
}

/**
 * Incremental maintenance (ltx PR #1): keeps each page's checksum so a rewrite XORs out the old value
 * and a truncation XORs out every dropped page, without rereading the database.
 */
export class DatabaseChecksum {
  readonly pageSize: number;
  private readonly lock: number;
  private sums: BigUint64Array = new BigUint64Array(0);
  private acc = 0n;
  private pages = 0;

  constructor(pageSize: number) {
    this.pageSize = pageSize;
    this.lock = lockPgno(pageSize);
  }

  /** Database size in pages as implied by the updates and truncations so far. */
  get commit(): number {
    return this.pages;
  }

  /** Current checksum; FLAG for an empty database. */
  get value(): bigint {
    return CHECKSUM_FLAG | this.acc;
  }

  /** Records new content for pgno, growing the database if pgno is past the end. */
  update(pgno: number, data: Uint8Array): void {
    this.setPageChecksum(pgno, pgno === this.lock ? 0n : pageChecksum(pgno, data));
  }

  /** Same as update when the caller already has the page checksum (e.g. from a manifest or index). */
  setPageChecksum(pgno: number, sum: bigint): void {
    if (!Number.isInteger(pgno) || pgno < 1) throw new RangeError(`invalid pgno ${pgno}`);
    if (pgno === this.lock) sum = 0n;
    this.ensureCapacity(pgno);
    const i = pgno - 1;
    this.acc ^= this.sums[i] ^ sum;
    this.sums[i] = sum;
    if (pgno > this.pages) this.pages = pgno;
  }

  /** Sets the database size; shrinking XORs out every removed page, growing adds pages not yet known. */
  truncate(commit: number): void {
    if (!Number.isInteger(commit) || commit < 0) throw new RangeError(`invalid commit ${commit}`);
    for (let i = commit; i < this.pages; i++) {
      this.acc ^= this.sums[i];
      this.sums[i] = 0n;
    }
    if (commit > this.pages) this.ensureCapacity(commit);
    this.pages = commit;
  }

  private ensureCapacity(n: number): void {
    if (n <= this.sums.length) return;
    const next = new BigUint64Array(Math.max(n, this.sums.length * 2, 64));
    next.set(this.sums);
    this.sums = next;
  }
}
