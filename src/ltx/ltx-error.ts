/** Builds the typed errors the LTX code throws, so every one carries the same op and context shape. */
import { type ErrorContext, WalshipError } from "../errors.js";

export type LtxErrorCode =
  | "ltx_invalid"
  | "ltx_checksum"
  | "ltx_unsupported"
  | "ltx_truncated"
  | "lz4"
  | "replica_gap";

export function ltxError(
  code: LtxErrorCode,
  message: string,
  context: ErrorContext = {},
  cause?: unknown,
): WalshipError {
  return new WalshipError(code, message, { op: "ltx", context, cause });
}

/** Misuse of an API by our own code (wrong call order), not a property of any file. */
export function usageBug(message: string): WalshipError {
  return new WalshipError("internal", message, { op: "ltx" });
}
