/**
 * A small buffered reader over a chunked byte source (a Node Readable, ranged-GET bodies, one whole
 * buffer). Decoding needs "at least n contiguous bytes" far more often than it needs a new chunk, so
 * fill() is only awaited when the buffer is short and the common path stays synchronous.
 */

export type ByteSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

const EMPTY = new Uint8Array(0);
const MIN_BUFFER = 64 * 1024;

export class ByteReader {
  private readonly sync: Iterator<Uint8Array> | null;
  private readonly async: AsyncIterator<Uint8Array> | null;
  /** Bytes [pos, end) of buf are unread. */
  private buf: Uint8Array = EMPTY;
  private pos = 0;
  private end = 0;
  /** File offset of buf[0]. */
  private base = 0;
  /** Whether buf is ours to append into; adopted source chunks are never written to. */
  private owned = false;
  private exhausted = false;

  constructor(source: ByteSource) {
    if (source instanceof Uint8Array) {
      this.sync = null;
      this.async = null;
      this.buf = source;
      this.end = source.length;
      this.exhausted = true;
    } else if (Symbol.asyncIterator in source) {
      this.sync = null;
      this.async = source[Symbol.asyncIterator]();
    } else {
      this.sync = source[Symbol.iterator]();
      this.async = null;
    }
  }

  /** File offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get available(): number {
    return this.end - this.pos;
  }

  /** Bytes seen so far; equals the file size once the source is exhausted. */
  get bytesSeen(): number {
    return this.base + this.end;
  }

  /**
   * Makes at least n unread bytes contiguous in the buffer. Returns false when the source ends first.
   * Existing views into the buffer stay valid: data is never moved inside a buffer, only copied out.
   */
  async fill(n: number): Promise<boolean> {
    while (this.end - this.pos < n) {
      if (this.exhausted) return false;
      const chunk = await this.nextChunk();
      if (chunk === null) {
        this.exhausted = true;
        return false;
      }
      if (chunk.length > 0) this.append(chunk, n);
    }
    return true;
  }

  /** Whether the source has no bytes left; may read one more chunk to find out. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** A view of the next n bytes, which the caller must have filled. The view is never overwritten. */
  take(n: number): Uint8Array {
    if (this.end - this.pos < n)
      throw new RangeError(`take(${n}) with ${this.end - this.pos} bytes buffered`);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** The underlying buffer and index of the next unread byte, for parsing in place without a copy. */
  peek(): { buf: Uint8Array; pos: number; end: number } {
    return { buf: this.buf, pos: this.pos, end: this.end };
  }

  /**
   * Stops reading: returns the source iterator, which for a Node Readable destroys the stream and frees
   * its file descriptor. Needed when decoding stops early (an error, or a consumer that breaks off).
   */
  async close(): Promise<void> {
    this.exhausted = true;
    this.buf = EMPTY;
    this.pos = 0;
    this.end = 0;
    if (this.async?.return) await this.async.return();
    else if (this.sync?.return) this.sync.return();
  }

  private async nextChunk(): Promise<Uint8Array | null> {
    if (this.async) {
      const r = await this.async.next();
      return r.done ? null : r.value;
    }
    if (this.sync) {
      const r = this.sync.next();
      return r.done ? null : r.value;
    }
    return null;
  }

  private append(chunk: Uint8Array, want: number): void {
    const unread = this.end - this.pos;
    if (unread === 0) {
      // Adopting the chunk avoids a copy on the common path of reads that fall inside one chunk.
      this.base += this.end;
      this.buf = chunk;
      this.pos = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      this.buf.set(chunk, this.end);
      this.end += chunk.length;
      return;
    }
    const size = Math.max(MIN_BUFFER, unread + chunk.length, want);
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.pos, this.end), 0);
    next.set(chunk, unread);
    this.base += this.pos;
    this.buf = next;
    this.pos = 0;
    this.end = unread + chunk.length;
    this.owned = true;
  }
}
