/** Internal entry point for the LTX codec; other modules import from here rather than individual files. */
export {
  type ApplyOptions,
  type ApplyResult,
  applyLtxFiles,
  applyLtxToFile,
  applyToBuffer,
} from "./apply.js";
export { ByteReader, type ByteSource } from "./byte-reader.js";
export {
  CHECKSUM_FLAG,
  DatabaseChecksum,
  databaseChecksum,
  databaseImageChecksum,
  EMPTY_DATABASE_CHECKSUM,
  formatChecksum,
  pageChecksum,
} from "./checksum.js";
export { type CompactOptions, type CompactResult, compactLtx } from "./compactor.js";
export { Crc64, crc64 } from "./crc64.js";
export {
  type DecodedLtx,
  type DecodedPage,
  decodeLtx,
  LtxDecoder,
  type LtxDecoderOptions,
  type LtxDecodeSummary,
} from "./decoder.js";
export { encodeLtx, type LtxEncodeResult, LtxEncoder, type LtxEncoderOptions } from "./encoder.js";
export { formatLtxFilename, formatTXID, parseLtxFilename } from "./filename.js";
export { type DecodedFrame, decodePageFrame, type PageEncoding } from "./frame.js";
export {
  decodeHeader,
  encodeHeader,
  HEADER_FLAG_NO_CHECKSUM,
  HEADER_SIZE,
  isChecksumTracked,
  isSnapshot,
  isValidPageSize,
  type LtxHeader,
  lastSnapshotPgno,
  lockPgno,
  PENDING_BYTE,
  validateHeader,
} from "./header.js";
export {
  isContiguous,
  type LtxSource,
  type MergedHeader,
  type MergedPage,
  type MergeOptions,
  mergePages,
  type PageMerge,
} from "./merge.js";
export {
  decodePageIndex,
  encodePageIndex,
  type PageIndex,
  type PageIndexEntry,
  type ReadRange,
  readPage,
  readPageIndex,
} from "./page-index.js";
export { PageOrder } from "./page-order.js";
export { type LtxTrailer, TRAILER_SIZE, validatePostApply } from "./trailer.js";
