/**
 * Runs one compaction job: merges the inputs with the LTX compactor (§6.5: NoChecksum, min of the first,
 * max and timestamp of the last, newest page wins) and streams the output straight into the replica
 * write. Memory is one read range per input plus one output chunk, whatever the database size.
 *
 * The output appears atomically or not at all: the compactor verifies every input's checksum before it
 * emits its last bytes, and an error (or abort) fails the body stream, so the backend discards the
 * partial object.
 */
import { WalshipError } from "../errors.js";
import { Limiter } from "../limiter.js";
import { type CompactResult, compactLtx } from "../ltx/compactor.js";
import { LtxDecoder } from "../ltx/decoder.js";
import { formatLtxFilename } from "../ltx/filename.js";
import type { LtxFileInfo, ReplicaClient } from "../replica/client.js";
import { ChunkPipe } from "./pipe.js";
import { MAX_CONCURRENT_COMPACTIONS } from "./policy.js";
import type { CompactionJob } from "./select.js";
import { type InputOptions, InputSet } from "./sources.js";

export interface CompactedFile extends LtxFileInfo {
  sourceLevel: number;
  inputs: number;
  inputBytes: number;
  /** Inputs read from local copies rather than the replica. */
  localInputs: number;
  durationMs: number;
}

/** Shared by every Maintainer in the process (one per database): see MAX_CONCURRENT_COMPACTIONS. */
const compactionSlots = new Limiter(MAX_CONCURRENT_COMPACTIONS);

/** Runs the job once one of the process's compaction slots is free (an abort ends the wait). */
export function runCompaction(
  client: ReplicaClient,
  job: CompactionJob,
  opts: InputOptions & { now?: () => number } = {},
): Promise<CompactedFile> {
  return compactionSlots.run(() => compactNow(client, job, opts), { signal: opts.signal, op: "compaction" });
}

async function compactNow(
  client: ReplicaClient,
  job: CompactionJob,
  opts: InputOptions & { now?: () => number },
): Promise<CompactedFile> {
  const now = opts.now ?? Date.now;
  const t0 = now();
  const inputs = new InputSet();
  try {
    const decoders: LtxDecoder[] = [];
    for (const f of job.inputs) {
      const name = `level ${f.level} file ${formatLtxFilename(f.minTXID, f.maxTXID)}`;
      decoders.push(new LtxDecoder(await inputs.open(client, f, opts), { name }));
    }
    // Headers first: the upload needs the output timestamp before the first byte, and a file whose
    // header disagrees with its name must not be merged under that name.
    for (const [i, d] of decoders.entries()) checkName(await d.readHeader(), job.inputs[i]!);
    const last = decoders[decoders.length - 1]!.header!;
    const timestamp = Number(last.timestamp);
    let result: CompactResult | null = null;
    const pipe = new ChunkPipe();
    const produce = compactLtx(decoders, (chunk) => pipe.put(chunk), { timestamp: last.timestamp }).then(
      (r) => {
        result = r;
        pipe.end();
      },
      (e: unknown) => pipe.fail(e),
    );
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        yield* pipe;
      } finally {
        pipe.cancel();
        await produce;
      }
    }
    try {
      await client.write(job.level, job.minTXID, job.maxTXID, body(), { timestamp, signal: opts.signal });
    } finally {
      // A write that failed before reading the body never ran body()'s cleanup; stop the producer here.
      pipe.cancel();
      await produce;
    }
    const r = result as CompactResult | null;
    if (!r) throw new WalshipError("internal", "compaction finished without a result", { op: "compaction" });
    return {
      level: job.level,
      minTXID: job.minTXID,
      maxTXID: job.maxTXID,
      size: r.size,
      createdAt: timestamp,
      sourceLevel: job.sourceLevel,
      inputs: job.inputs.length,
      inputBytes: job.inputBytes,
      localInputs: inputs.localCount,
      durationMs: now() - t0,
    };
  } finally {
    await inputs.close();
  }
}

function checkName(h: { minTXID: bigint; maxTXID: bigint }, f: LtxFileInfo): void {
  if (h.minTXID === f.minTXID && h.maxTXID === f.maxTXID) return;
  throw new WalshipError(
    "ltx_invalid",
    `level ${f.level} file ${formatLtxFilename(f.minTXID, f.maxTXID)} holds TXIDs ${formatLtxFilename(h.minTXID, h.maxTXID).slice(0, -4)} according to its header`,
    {
      op: "compaction",
      context: { level: f.level, minTXID: f.minTXID, maxTXID: f.maxTXID },
      hint: "the replica holds a misnamed file; run `walship verify` on it",
    },
  );
}
