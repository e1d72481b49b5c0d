/** WAL parsing and incremental reading: the capture side of replication. */

export {
  type WalChecksumState,
  walChecksum,
  walChecksumUpdate,
  walFrameChecksumUpdate,
} from "./checksum.js";
export {
  encodeWalFrameHeader,
  encodeWalHeader,
  parseWalFrameHeader,
  parseWalHeader,
  WAL_FORMAT_VERSION,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  WAL_MAGIC_BE,
  WAL_MAGIC_LE,
  type WalFrameHeader,
  type WalHeader,
  type WalHeaderFields,
  walFrameSize,
} from "./header.js";
export {
  readPage,
  type ScanWalOptions,
  scanWal,
  type WalPosition,
  type WalScan,
  type WalScanStatus,
  type WalStopReason,
} from "./reader.js";
