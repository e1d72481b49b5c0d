/** The 16-byte trailer (spec §4.3) and the post-apply rules that both encoder and decoder enforce. */
import { formatChecksum as hex } from "./checksum.js";
import { CHECKSUM_FLAG } from "./crc64.js";
import { isChecksumTracked, type LtxHeader } from "./header.js";
import { ltxError } from "./ltx-error.js";

export const TRAILER_SIZE = 16;

export interface LtxTrailer {
  postApplyChecksum: bigint;
  fileChecksum: bigint;
}

/**
 * Go's decoder skips these checks (§13 item 3), which is how NoChecksum files with a non-zero post-apply
 * reach replicas and then break Litestream restore (litestream#1427). `offset` is the field's file offset.
 */
export function validatePostApply(h: LtxHeader, post: bigint, offset?: number): void {
  const ctx = { field: "postApplyChecksum", offset };
  if (!isChecksumTracked(h)) {
    if (post !== 0n) {
      throw ltxError(
        "ltx_invalid",
        `postApplyChecksum: must be 0 when the NoChecksum flag is set, got ${hex(post)} (Litestream cannot restore such files)`,
        ctx,
      );
    }
    return;
  }
  if (h.commit === 0) {
    if (post !== CHECKSUM_FLAG) {
      throw ltxError(
        "ltx_invalid",
        `postApplyChecksum: must be 8000000000000000 for commit 0, got ${hex(post)}`,
        ctx,
      );
    }
    return;
  }
  if (post === 0n)
    throw ltxError("ltx_invalid", "postApplyChecksum: required when checksums are tracked", ctx);
  if ((post & CHECKSUM_FLAG) === 0n) {
    throw ltxError("ltx_invalid", `postApplyChecksum: bit 63 must be set, got ${hex(post)}`, ctx);
  }
}
