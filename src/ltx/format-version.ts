/**
 * Old LTX format detection (spec §8.3). The file has no version field and every version starts with
 * "LTX1", so v1/v2 files only show themselves through the first frame failing as v3. Telling the user
 * which format they have beats a bare "invalid page flags".
 */
import type { ByteReader } from "./byte-reader.js";
import { readU32BE } from "./frame.js";
import type { LtxHeader } from "./header.js";
import { ltxError } from "./ltx-error.js";

const LZ4_MAGIC = [0x04, 0x22, 0x4d, 0x18];
const SQLITE_MAGIC = new TextEncoder().encode("SQLite format 3\0");

function matches(buf: Uint8Array, at: number, end: number, magic: ArrayLike<number>): boolean {
  if (at + magic.length > end) return false;
  for (let i = 0; i < magic.length; i++) if (buf[at + i] !== magic[i]) return false;
  return true;
}

function unsupported(version: string, detail: string, offset: number): Error {
  return ltxError(
    "ltx_unsupported",
    `LTX format ${version} is not supported: ${detail}; only format v3 (ltx >= v0.5, Litestream >= v0.5.0) can be read`,
    { field: "pageFlags", offset },
  );
}

/**
 * Called with the reader at the first frame when its page flags are invalid for v3. Throws
 * ltx_unsupported if the bytes look like v1 or v2, and returns otherwise so the caller reports corruption.
 */
export async function detectOldFormat(r: ByteReader, h: LtxHeader): Promise<void> {
  const offset = r.offset;
  await r.fill(4 + SQLITE_MAGIC.length);
  let { buf, pos, end } = r.peek();
  if (matches(buf, pos, end, LZ4_MAGIC)) {
    throw unsupported("v1 (ltx <= v0.3)", "the page block is one LZ4 frame (CompressLZ4)", offset);
  }
  if (matches(buf, pos + 4, end, LZ4_MAGIC)) {
    throw unsupported("v2 (ltx v0.4)", "4-byte page headers followed by LZ4 frames", offset);
  }
  const pgno = readU32BE(buf, pos);
  if (pgno === 1 && matches(buf, pos + 4, end, SQLITE_MAGIC)) {
    throw unsupported("v1 (ltx <= v0.3)", "4-byte page headers followed by raw pages", offset);
  }
  // A raw v1 frame is pgno + pageSize bytes, so the next pgno (or the 0 terminator) sits right after it.
  if (await r.fill(4 + h.pageSize + 4)) {
    ({ buf, pos, end } = r.peek());
    const next = readU32BE(buf, pos + 4 + h.pageSize);
    if (next === 0 || (next > pgno && next <= h.commit)) {
      throw unsupported("v1 (ltx <= v0.3)", "4-byte page headers followed by raw pages", offset);
    }
  }
}
