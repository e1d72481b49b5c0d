/**
 * Applying a chain of LTX files to a database image: a snapshot plus later files builds a database from
 * nothing (restore), incremental files alone update an existing one. Pages come from the same merge the
 * compactor uses, so a restore and a compaction of the same chain cannot disagree.
 *
 * Inputs are verified only as the merge reaches their ends, so a failed apply leaves a partial image:
 * restore should write to a temporary path and rename only after success.
 */
import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { fsError, WalshipError } from "../errors.js";
import { CHECKSUM_FLAG, databaseImageChecksum, formatChecksum, pageChecksum } from "./checksum.js";
import { LtxDecoder } from "./decoder.js";
import { isChecksumTracked, lockPgno } from "./header.js";
import { ltxError } from "./ltx-error.js";
import { type LtxSource, type MergedHeader, type MergeOptions, mergePages, type PageMerge } from "./merge.js";

export interface ApplyOptions extends MergeOptions {
  /**
   * For checksum-tracked files, check the base database against the first file's pre-apply checksum and
   * the result against the last file's post-apply checksum. Costs one extra read of the database.
   */
  verifyChecksums?: boolean;
}

export interface ApplyResult {
  header: MergedHeader;
  /** Final database size in bytes (commit × pageSize). */
  size: number;
  /** The last input's post-apply checksum (0 for NoChecksum files). */
  postApplyChecksum: bigint;
}

/** Coalesced writes: consecutive pages go out in one call of up to this many bytes. */
const WRITE_RUN_BYTES = 1024 * 1024;

function checkBase(m: MergedHeader, baseSize: number | undefined): void {
  if (m.snapshot) return;
  if (baseSize === undefined) {
    throw ltxError("ltx_invalid", "the first LTX file is not a snapshot, so a base database is required", {
      minTXID: m.minTXID,
    });
  }
  if (baseSize % m.pageSize !== 0) {
    throw ltxError(
      "ltx_invalid",
      `base database size ${baseSize} is not a multiple of the LTX page size ${m.pageSize}`,
      { field: "pageSize" },
    );
  }
}

async function verifyPre(m: MergedHeader, actual: () => Promise<bigint>): Promise<void> {
  if (m.snapshot || !isChecksumTracked(m.inputs[0])) return;
  const sum = await actual();
  if (sum !== m.preApplyChecksum) {
    throw ltxError(
      "ltx_checksum",
      `preApplyChecksum: file expects ${formatChecksum(m.preApplyChecksum)}, database is ${formatChecksum(sum)}`,
      { field: "preApplyChecksum", minTXID: m.minTXID },
    );
  }
}

async function verifyPost(merge: PageMerge, actual: () => Promise<bigint>): Promise<void> {
  const m = merge.header;
  if (!isChecksumTracked(m.inputs[m.inputs.length - 1])) return;
  const want = merge.postApplyChecksum();
  const sum = await actual();
  if (sum !== want) {
    throw ltxError(
      "ltx_checksum",
      `postApplyChecksum: file expects ${formatChecksum(want)}, applied database is ${formatChecksum(sum)}`,
      { field: "postApplyChecksum", maxTXID: m.maxTXID },
    );
  }
}

/** In-memory apply; `base` is required unless the first input is a snapshot (then it is ignored). */
export async function applyToBuffer(
  inputs: readonly LtxSource[],
  base?: Uint8Array,
  opts: ApplyOptions = {},
): Promise<ApplyResult & { image: Uint8Array }> {
  const merge = await mergePages(inputs, opts);
  try {
    return await applyMergedToBuffer(merge, base, opts);
  } finally {
    await merge.close();
  }
}

async function applyMergedToBuffer(
  merge: PageMerge,
  base: Uint8Array | undefined,
  opts: ApplyOptions,
): Promise<ApplyResult & { image: Uint8Array }> {
  const m = merge.header;
  checkBase(m, base?.length);
  if (opts.verifyChecksums && base) await verifyPre(m, async () => databaseImageChecksum(base, m.pageSize));
  const size = m.commit * m.pageSize;
  const image = new Uint8Array(size);
  if (!m.snapshot && base) image.set(base.length > size ? base.subarray(0, size) : base);
  for await (const p of merge.pages()) image.set(p.data, (p.pgno - 1) * m.pageSize);
  const lock = lockPgno(m.pageSize);
  if (m.commit >= lock) image.fill(0, (lock - 1) * m.pageSize, lock * m.pageSize);
  if (opts.verifyChecksums) await verifyPost(merge, async () => databaseImageChecksum(image, m.pageSize));
  return { header: m, size, postApplyChecksum: merge.postApplyChecksum(), image };
}

/** Database checksum of a file, read in large chunks so memory stays flat for big databases. */
async function fileChecksum(fh: FileHandle, pageSize: number, pages: number): Promise<bigint> {
  const per = Math.max(1, Math.floor(WRITE_RUN_BYTES / pageSize));
  const buf = new Uint8Array(per * pageSize);
  const lock = lockPgno(pageSize);
  let acc = 0n;
  for (let pgno = 1; pgno <= pages; pgno += per) {
    const n = Math.min(per, pages - pgno + 1);
    const { bytesRead } = await fh.read(buf, 0, n * pageSize, (pgno - 1) * pageSize);
    if (bytesRead !== n * pageSize) {
      throw new WalshipError("db_invalid", `database file ended while reading page ${pgno}`, {
        op: "apply LTX",
        context: { pgno },
      });
    }
    for (let i = 0; i < n; i++) {
      if (pgno + i !== lock) acc ^= pageChecksum(pgno + i, buf.subarray(i * pageSize, (i + 1) * pageSize));
    }
  }
  return CHECKSUM_FLAG | acc;
}

/**
 * Applies the chain to a database file. A path is created/truncated when the chain starts with a
 * snapshot and must exist otherwise; a FileHandle is used as is and left open. The result is exactly
 * commit × pageSize bytes with the lock page zero-filled.
 */
export async function applyLtxToFile(
  inputs: readonly LtxSource[],
  target: string | FileHandle,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const merge = await mergePages(inputs, opts);
  const path = typeof target === "string" ? target : "<file handle>";
  let fh: FileHandle | undefined;
  try {
    fh = typeof target === "string" ? await open(target, merge.header.snapshot ? "w+" : "r+") : target;
    return await writeMerged(merge, fh, opts);
  } catch (e) {
    // Disk-full and permission failures become typed errors naming the database path.
    throw e instanceof WalshipError ? e : fsError(e, "apply LTX", path);
  } finally {
    await merge.close();
    if (typeof target === "string") await fh?.close();
  }
}

async function writeMerged(merge: PageMerge, fh: FileHandle, opts: ApplyOptions): Promise<ApplyResult> {
  const m = merge.header;
  const ps = m.pageSize;
  const baseSize = m.snapshot ? undefined : (await fh.stat()).size;
  checkBase(m, baseSize);
  if (opts.verifyChecksums && baseSize !== undefined) {
    await verifyPre(m, () => fileChecksum(fh, ps, baseSize / ps));
  }
  const run = new Uint8Array(Math.max(ps, Math.floor(WRITE_RUN_BYTES / ps) * ps));
  let runStart = 0;
  let runPages = 0;
  const flush = async (): Promise<void> => {
    if (runPages > 0) await fh.write(run, 0, runPages * ps, (runStart - 1) * ps);
    runPages = 0;
  };
  for await (const p of merge.pages()) {
    if (runPages > 0 && (p.pgno !== runStart + runPages || (runPages + 1) * ps > run.length)) await flush();
    if (runPages === 0) runStart = p.pgno;
    run.set(p.data, runPages * ps);
    runPages++;
  }
  await flush();
  const lock = lockPgno(ps);
  if (m.commit >= lock) await fh.write(new Uint8Array(ps), 0, ps, (lock - 1) * ps);
  const size = m.commit * ps;
  await fh.truncate(size);
  if (opts.verifyChecksums) await verifyPost(merge, () => fileChecksum(fh, ps, m.commit));
  return { header: m, size, postApplyChecksum: merge.postApplyChecksum() };
}

/** Read-ahead per input file; small because a restore may merge many files at once. */
const INPUT_READ_BYTES = 64 * 1024;

/**
 * applyLtxToFile over LTX files on disk. `names` (e.g. "L0/…-….ltx") label errors so a failed restore
 * says which replica file is bad; they default to the paths.
 */
export async function applyLtxFiles(
  paths: readonly string[],
  target: string | FileHandle,
  opts: ApplyOptions & { names?: readonly string[] } = {},
): Promise<ApplyResult> {
  const streams = paths.map((p) => createReadStream(p, { highWaterMark: INPUT_READ_BYTES }));
  try {
    const decoders = streams.map((s, i) => new LtxDecoder(s, { name: opts.names?.[i] ?? paths[i] }));
    return await applyLtxToFile(decoders, target, opts);
  } finally {
    // A failed merge stops reading mid-file; destroying closes those descriptors now rather than at GC.
    for (const s of streams) s.destroy();
  }
}
