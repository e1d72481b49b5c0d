/**
 * Decodes every file of a replica completely (ranged reads, a few files at a time, one range per file in
 * memory) with every check the decoder makes: structure, LZ4 payloads, page index, trailer, file checksum,
 * snapshot completeness. Also compares each header with the file's name and collects page sizes.
 */

import { InputSet } from "../compaction/sources.js";
import { WalshipError } from "../errors.js";
import { LtxDecoder } from "../ltx/decoder.js";
import type { LtxHeader } from "../ltx/header.js";
import { type LtxFileInfo, type ReplicaClient, SNAPSHOT_LEVEL } from "../replica/client.js";
import { mapLimit } from "../replica/retry.js";
import { fileName, problem, type VerifyProblem } from "./problems.js";

/** Files decoded at once: enough to hide request latency, few enough to keep memory small. */
export const VERIFY_CONCURRENCY = 4;

export interface CheckedFile {
  file: LtxFileInfo;
  header: LtxHeader | null;
  problems: VerifyProblem[];
  /** Deleted between the listing and the read (retention on a live replica): not a problem. */
  vanished: boolean;
}

export async function checkFile(
  client: ReplicaClient,
  f: LtxFileInfo,
  signal?: AbortSignal,
): Promise<CheckedFile> {
  const inputs = new InputSet();
  const problems: VerifyProblem[] = [];
  const where = { level: f.level, minTXID: f.minTXID, maxTXID: f.maxTXID };
  let header: LtxHeader | null = null;
  let vanished = false;
  try {
    const dec = new LtxDecoder(await inputs.open(client, f, { signal }));
    header = await dec.readHeader();
    if (header.minTXID !== f.minTXID || header.maxTXID !== f.maxTXID) {
      problems.push(
        problem("misnamed", `${fileName(f)}: header says TXIDs ${header.minTXID}-${header.maxTXID}`, where),
      );
    }
    if (f.level === SNAPSHOT_LEVEL && header.minTXID !== 1n) {
      problems.push(problem("misnamed", `${fileName(f)}: a snapshot must start at TXID 1`, where));
    }
    while (await dec.nextPage()) {}
    const summary = await dec.finish();
    if (f.size > 0 && summary.size !== f.size) {
      problems.push(
        problem("damaged", `${fileName(f)}: listed as ${f.size} bytes, decoded ${summary.size}`, where),
      );
    }
  } catch (e) {
    if (!(e instanceof WalshipError) || e.code === "aborted") throw e;
    if (e.code === "replica_not_found") {
      vanished = true;
      return { file: f, header, problems: [], vanished };
    }
    if (e.code === "storage_auth" || e.code === "storage_connection" || e.code === "storage_throttled")
      throw e;
    const at = typeof e.context.offset === "number" ? ` at byte ${e.context.offset}` : "";
    problems.push(problem("damaged", `${fileName(f)}: ${e.message}${at}`, { ...where, cause: e.code }));
  } finally {
    await inputs.close();
  }
  return { file: f, header, problems, vanished };
}

export function checkFiles(
  client: ReplicaClient,
  files: readonly LtxFileInfo[],
  opts: { signal?: AbortSignal; onFile?: (c: CheckedFile) => void } = {},
): Promise<CheckedFile[]> {
  return mapLimit(files, VERIFY_CONCURRENCY, async (f) => {
    const c = await checkFile(client, f, opts.signal);
    opts.onFile?.(c);
    return c;
  });
}

/**
 * Files whose page size differs from the replica's: the newest snapshot's, else the most common one. A
 * different page size means a file from another database; no restore can merge it.
 */
export function pageSizeProblems(checked: readonly CheckedFile[]): {
  pageSize: number | null;
  problems: VerifyProblem[];
} {
  const withHeader = checked.filter((c) => c.header !== null);
  if (withHeader.length === 0) return { pageSize: null, problems: [] };
  let ref: number | null = null;
  let newestSnap: CheckedFile | null = null;
  for (const c of withHeader) {
    if (c.file.level === SNAPSHOT_LEVEL && (!newestSnap || c.file.maxTXID > newestSnap.file.maxTXID))
      newestSnap = c;
  }
  if (newestSnap) ref = newestSnap.header!.pageSize;
  else {
    const counts = new Map<number, number>();
    for (const c of withHeader) counts.set(c.header!.pageSize, (counts.get(c.header!.pageSize) ?? 0) + 1);
    ref = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  }
  const problems = withHeader
    .filter((c) => c.header!.pageSize !== ref)
    .map((c) =>
      problem(
        "page_size",
        `${fileName(c.file)} has page size ${c.header!.pageSize}, the replica ${ref}: a file from another database?`,
        { level: c.file.level, minTXID: c.file.minTXID, maxTXID: c.file.maxTXID },
      ),
    );
  return { pageSize: ref, problems };
}
