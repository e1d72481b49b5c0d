/**
 * Joins small chunks (one LTX page frame each) into large ones before they reach a file: one write per
 * page would cost a syscall and an await per page, which dominates encoding a large database.
 */

/** Bytes per coalesced write: large enough to amortise the write, small enough to stay out of the way. */
export const COALESCE_BYTES = 1024 * 1024;

/**
 * First buffer size (bytes); it doubles up to the coalesce size. A level-0 file of a second's commits is
 * tens of KiB: a full 1 MiB buffer per file was, with the WAL reader's, most of what capture allocated at
 * many databases (see docs/performance.md).
 */
const FIRST_BUFFER_BYTES = 16 * 1024;

export async function* coalesce(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size = COALESCE_BYTES,
): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(Math.min(size, FIRST_BUFFER_BYTES));
  let n = 0;
  for await (const c of chunks) {
    if (n + c.length > size && n > 0) {
      yield buf.subarray(0, n);
      buf = new Uint8Array(buf.length);
      n = 0;
    }
    if (c.length >= size) {
      yield c;
      continue;
    }
    if (n + c.length > buf.length) {
      let len = buf.length * 2;
      while (len < n + c.length) len *= 2;
      const grown = new Uint8Array(Math.min(size, len));
      grown.set(buf.subarray(0, n));
      buf = grown;
    }
    buf.set(c, n);
    n += c.length;
  }
  if (n > 0) yield buf.subarray(0, n);
}
