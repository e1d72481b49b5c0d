/**
 * What `walship verify` reports. Problems come in two families, which decide the error thrown when any
 * exist (both exit 7, "corruption"):
 * - "ltx_invalid": a file is damaged or foreign (checksum, truncation, structure, name/header mismatch,
 *   page size different from the rest, a deep restore failing integrity_check);
 * - "replica_gap": every file is sound but they do not fit together (overlaps within a level, holes in
 *   the TXID coverage, no restore chain to the newest TXID).
 */
import { WalshipError } from "../errors.js";
import { formatLtxFilename } from "../ltx/filename.js";

export type ProblemKind = "damaged" | "misnamed" | "page_size" | "overlap" | "gap" | "no_chain" | "integrity";

export interface VerifyProblem {
  kind: ProblemKind;
  /** The family (see above). */
  code: "ltx_invalid" | "replica_gap";
  /** The underlying error code when a decode failed (ltx_checksum, ltx_truncated, lz4, ...). */
  cause?: string;
  message: string;
  level?: number;
  minTXID?: bigint;
  maxTXID?: bigint;
}

const FAMILY: Record<ProblemKind, VerifyProblem["code"]> = {
  damaged: "ltx_invalid",
  misnamed: "ltx_invalid",
  page_size: "ltx_invalid",
  integrity: "ltx_invalid",
  overlap: "replica_gap",
  gap: "replica_gap",
  no_chain: "replica_gap",
};

export function problem(
  kind: ProblemKind,
  message: string,
  where: { level?: number; minTXID?: bigint; maxTXID?: bigint; cause?: string } = {},
): VerifyProblem {
  return { kind, code: FAMILY[kind], message, ...where };
}

export function fileName(f: { level: number; minTXID: bigint; maxTXID: bigint }): string {
  return `level ${f.level} file ${formatLtxFilename(f.minTXID, f.maxTXID)}`;
}

/** The error for a replica with problems: ltx_invalid if any file is bad, else replica_gap. */
export function problemsError(location: string, problems: readonly VerifyProblem[]): WalshipError {
  const code = problems.some((p) => p.code === "ltx_invalid") ? "ltx_invalid" : "replica_gap";
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return new WalshipError(code, `${location}: ${first.message}${more}`, {
    op: "verify",
    context: {
      level: first.level,
      minTXID: first.minTXID,
      maxTXID: first.maxTXID,
      problems: problems.length,
    },
    hint: "restore an earlier point with --txid, or take a new snapshot on the source to start a fresh chain",
  });
}
