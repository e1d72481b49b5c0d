/**
 * Downloads the files of a restore plan concurrently into a local temp directory with ranged reads, so a
 * large restore is limited by bandwidth, not by one serial stream. Each range is retried on its own, so a
 * dropped connection costs one range, not the whole file.
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import { WalshipError } from "../errors.js";
import { formatLtxFilename } from "../ltx/filename.js";
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { withRetry } from "../replica/retry.js";

export interface FetchProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export interface FetchOptions {
  concurrency: number;
  rangeBytes: number;
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
}

/** Range attempts: a long restore should ride out several network blips per range. */
const RANGE_ATTEMPTS = 6;

export async function fetchPlanFiles(
  client: ReplicaClient,
  files: LtxFileInfo[],
  dir: string,
  opts: FetchOptions,
): Promise<string[]> {
  const paths = files.map((f, i) =>
    join(dir, `${String(i).padStart(4, "0")}-L${f.level}-${formatLtxFilename(f.minTXID, f.maxTXID)}`),
  );
  const progress: FetchProgress = {
    bytesDone: 0,
    bytesTotal: files.reduce((n, f) => n + f.size, 0),
    filesDone: 0,
    filesTotal: files.length,
  };
  // Work items are ranges, so one big snapshot is spread over every connection.
  const jobs: Array<{ file: number; offset: number; length: number }> = [];
  for (const [i, f] of files.entries()) {
    for (let off = 0; off < f.size || (f.size === 0 && off === 0); off += opts.rangeBytes) {
      jobs.push({ file: i, offset: off, length: Math.min(opts.rangeBytes, f.size - off) });
      if (f.size === 0) break;
    }
  }
  const handles = await Promise.all(paths.map((p) => open(p, "w")));
  const remaining = files.map((f) => Math.max(1, Math.ceil(f.size / opts.rangeBytes)));
  try {
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < jobs.length && !failed) {
        const job = jobs[next++]!;
        const f = files[job.file]!;
        const data = await withRetry(
          async () => {
            const b = await client.open(f.level, f.minTXID, f.maxTXID, {
              offset: job.offset,
              length: job.length,
              signal: opts.signal,
            });
            if (b.length !== job.length) {
              throw new WalshipError(
                "storage_connection",
                `short read of ${formatLtxFilename(f.minTXID, f.maxTXID)}`,
                {
                  op: "restore fetch",
                  context: { level: f.level, offset: job.offset },
                  retryable: true,
                },
              );
            }
            return b;
          },
          { attempts: RANGE_ATTEMPTS, signal: opts.signal, op: "restore fetch" },
        );
        await handles[job.file]!.write(data, 0, data.length, job.offset);
        progress.bytesDone += data.length;
        if (--remaining[job.file]! === 0) progress.filesDone++;
        opts.onProgress?.({ ...progress });
      }
    };
    const guarded = () =>
      worker().catch((e) => {
        failed = true;
        throw e;
      });
    const results = await Promise.allSettled(Array.from({ length: Math.max(1, opts.concurrency) }, guarded));
    const failure = results.find((r) => r.status === "rejected");
    if (failure) throw (failure as PromiseRejectedResult).reason;
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
  return paths;
}
