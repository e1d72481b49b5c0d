/**
 * Joins small chunks (one LTX page frame each) into large ones before they reach a file: one write per
 * page would cost a syscall and an await per page, which dominates encoding a large database.
 */

/** Bytes per coalesced write: large enough to amortise the write, small enough to stay out of the way. */
export const COALESCE_BYTES = 1024 * 1024;

export async function* coalesce(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size = COALESCE_BYTES,
): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(size);
  let n = 0;
  for await (const c of chunks) {
    if (n + c.length > size && n > 0) {
      yield buf.subarray(0, n);
      buf = new Uint8Array(size);
      n = 0;
    }
    if (c.length >= size) {
      yield c;
      continue;
    }
    buf.set(c, n);
    n += c.length;
  }
  if (n > 0) yield buf.subarray(0, n);
}
