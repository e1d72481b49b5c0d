/**
 * Everything an apply needs, prepared before it takes the lock, so readers are held off only for local
 * page copies: the chain's files are downloaded, merged (newest page wins), verified to the last checksum
 * and packed into one scratch file; or a restored image is compared page by page with the local database.
 */
import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { RESTORE_RANGE_BYTES } from "../defaults.js";
import { WalshipError } from "../errors.js";
import { LtxDecoder } from "../ltx/decoder.js";
import { formatLtxFilename } from "../ltx/filename.js";
import { lockPgno } from "../ltx/header.js";
import { type MergedHeader, mergePages } from "../ltx/merge.js";
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { fetchPlanFiles } from "../restore/fetch.js";
import { FOLLOW_FETCH_CONCURRENCY } from "./defaults.js";
import { DB_HEADER_SIZE, readDbHeader } from "./header.js";
import type { LocalDb } from "./local-db.js";
import type { PageSet } from "./page-set.js";

/** Scratch writes are gathered into chunks of this many bytes. */
const STAGE_WRITE_BYTES = 1024 * 1024;
/** Pages compared per read when diffing an image. */
const DIFF_PAGES_PER_READ = 256;
/** Read-ahead per LTX input (small: a catch-up may merge hundreds of files at once). */
const INPUT_READ_BYTES = 64 * 1024;

export interface StagedChain {
  set: PageSet;
  header: MergedHeader;
  /** Bytes downloaded. */
  bytes: number;
}

export async function stageChain(
  client: ReplicaClient,
  files: LtxFileInfo[],
  dir: string,
  signal?: AbortSignal,
): Promise<StagedChain> {
  const paths = await fetchPlanFiles(client, files, dir, {
    concurrency: FOLLOW_FETCH_CONCURRENCY,
    rangeBytes: RESTORE_RANGE_BYTES,
    signal,
  });
  const streams = paths.map((p) => createReadStream(p, { highWaterMark: INPUT_READ_BYTES }));
  let out: FileHandle | undefined;
  try {
    const decoders = streams.map(
      (s, i) =>
        new LtxDecoder(s, {
          name: `level ${files[i]!.level} file ${formatLtxFilename(files[i]!.minTXID, files[i]!.maxTXID)} in ${client.location}`,
        }),
    );
    const merge = await mergePages(decoders);
    const ps = merge.header.pageSize;
    out = await open(join(dir, "pages"), "w+");
    const pgnos: number[] = [];
    const offsets: number[] = [];
    const chunk = new Uint8Array(Math.max(ps, Math.floor(STAGE_WRITE_BYTES / ps) * ps));
    let used = 0;
    let at = 0;
    const fh = out;
    const flush = async () => {
      if (used > 0) await fh.write(chunk, 0, used, at);
      at += used;
      used = 0;
    };
    try {
      for await (const p of merge.pages()) {
        if (used + ps > chunk.length) await flush();
        chunk.set(p.data, used);
        pgnos.push(p.pgno);
        offsets.push(at + used);
        used += ps;
      }
      await flush();
    } finally {
      await merge.close();
    }
    // pages() has verified every input's checksum by now, so nothing unverified reaches the database.
    merge.summaries();
    return {
      set: { pageSize: ps, commit: merge.header.commit, pgnos, offsets, source: out },
      header: merge.header,
      bytes: files.reduce((n, f) => n + f.size, 0),
    };
  } catch (e) {
    await out?.close().catch(() => undefined);
    throw e;
  } finally {
    for (const s of streams) s.destroy();
  }
}

/**
 * The pages of `image` that differ from the local database (page 1 always, since the apply restamps it),
 * plus every page past the local end. Writing only those keeps the journal, and the time under the lock,
 * proportional to what changed rather than to the database.
 */
export async function diffImage(local: LocalDb, imagePath: string): Promise<PageSet> {
  const img = await open(imagePath, "r");
  try {
    const head = new Uint8Array(DB_HEADER_SIZE);
    await img.read(head, 0, DB_HEADER_SIZE, 0);
    const ps = readDbHeader(head).pageSize;
    if (ps !== local.pageSize) {
      throw new WalshipError(
        "db_invalid",
        `replica page size ${ps} differs from the local database's ${local.pageSize}`,
        {
          op: "follow bootstrap",
          context: { db: local.path },
          hint: "the primary was rebuilt with another page size: remove the local database to bootstrap again",
        },
      );
    }
    const pages = Math.floor((await img.stat()).size / ps);
    const lock = lockPgno(ps);
    const a = new Uint8Array(DIFF_PAGES_PER_READ * ps);
    const b = new Uint8Array(DIFF_PAGES_PER_READ * ps);
    const pgnos: number[] = [];
    const offsets: number[] = [];
    for (let pgno = 1; pgno <= pages; pgno += DIFF_PAGES_PER_READ) {
      const n = Math.min(DIFF_PAGES_PER_READ, pages - pgno + 1);
      await img.read(a, 0, n * ps, (pgno - 1) * ps);
      const have = await local.readPages(pgno, b.subarray(0, n * ps));
      for (let k = 0; k < n; k++) {
        const p = pgno + k;
        if (p === lock) continue;
        const same =
          p !== 1 &&
          k < have &&
          Buffer.compare(a.subarray(k * ps, (k + 1) * ps), b.subarray(k * ps, (k + 1) * ps)) === 0;
        if (!same) {
          pgnos.push(p);
          offsets.push((p - 1) * ps);
        }
      }
    }
    return { pageSize: ps, commit: pages, pgnos, offsets, source: img };
  } catch (e) {
    await img.close();
    throw e;
  }
}
