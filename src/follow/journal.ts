/**
 * SQLite's own rollback journal (`<db>-journal`, the format pager.c writes), filled with the original
 * content of every page an apply is about to overwrite or truncate away. Writing SQLite's format rather
 * than a private one is the point: if the follower dies mid-apply, the journal is "hot" (it exists and
 * nobody holds RESERVED), so the next connection that opens the database, a reader or the restarted
 * follower, rolls the file back before reading a single page. No reader ever sees a half-applied file.
 *
 * Layout: a header padded to one sector (magic, record count, checksum nonce, original page count, sector
 * size, page size), then per page: pgno (u32 BE), the page, a checksum (u32 BE: the nonce plus every
 * 200th byte counted down from pageSize-200).
 */
import { randomInt } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";

const MAGIC = Uint8Array.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
/** SQLite's default sector size on unix; records start at this offset. */
const SECTOR_SIZE = 4096;
/** Records buffered before one write call. */
const RECORDS_PER_WRITE = 64;

export function journalPath(db: string): string {
  return `${db}-journal`;
}

export function recordChecksum(nonce: number, page: Uint8Array): number {
  let sum = nonce >>> 0;
  for (let i = page.length - 200; i > 0; i -= 200) sum = (sum + page[i]!) >>> 0;
  return sum;
}

export function encodeJournalHeader(o: {
  records: number;
  nonce: number;
  originalPages: number;
  pageSize: number;
}): Uint8Array {
  const b = new Uint8Array(SECTOR_SIZE);
  const v = new DataView(b.buffer);
  b.set(MAGIC, 0);
  v.setUint32(8, o.records);
  v.setUint32(12, o.nonce >>> 0);
  v.setUint32(16, o.originalPages);
  v.setUint32(20, SECTOR_SIZE);
  v.setUint32(24, o.pageSize);
  return b;
}

/** Writes one journal; the record count is fixed up front, so a short journal can never claim to be whole. */
export class JournalWriter {
  private readonly buf: Uint8Array;
  private used = 0;
  private written = 0;
  private offset = SECTOR_SIZE;
  private readonly nonce = randomInt(0, 0x1_0000_0000);

  private constructor(
    private readonly fh: FileHandle,
    private readonly pageSize: number,
    private readonly records: number,
  ) {
    this.buf = new Uint8Array(RECORDS_PER_WRITE * (pageSize + 8));
  }

  static async create(path: string, pageSize: number, records: number, originalPages: number) {
    const fh = await open(path, "w");
    const w = new JournalWriter(fh, pageSize, records);
    try {
      const hdr = encodeJournalHeader({ records, nonce: w.nonce, originalPages, pageSize });
      await fh.write(hdr, 0, hdr.length, 0);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return w;
  }

  async add(pgno: number, page: Uint8Array): Promise<void> {
    const v = new DataView(this.buf.buffer, this.used, this.pageSize + 8);
    v.setUint32(0, pgno);
    this.buf.set(page, this.used + 4);
    v.setUint32(4 + this.pageSize, recordChecksum(this.nonce, page));
    this.used += this.pageSize + 8;
    this.written++;
    if (this.used === this.buf.length) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.fh.write(this.buf, 0, this.used, this.offset);
    this.offset += this.used;
    this.used = 0;
  }

  /** Flushes and fsyncs: after this the journal can undo every page it holds. */
  async finish(): Promise<void> {
    try {
      if (this.written !== this.records) {
        throw new Error(`journal holds ${this.written} records, header says ${this.records}`);
      }
      await this.flush();
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  async abandon(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
