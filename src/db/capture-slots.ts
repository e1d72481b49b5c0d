/**
 * Captures running at once in the whole process, over all its databases. A capture holds a WAL read
 * chunk (up to 1 MiB), the pages it encodes and the staged file's write buffer while it waits on file
 * I/O; when the process falls behind (1000 databases on two busy cores) every database's capture was in
 * flight at once, queued in libuv's four-thread file pool, and those buffers added 180 MiB of RSS. With a
 * bound, waiting captures hold nothing, and captures were no less frequent (docs/performance.md).
 */
import { Limiter } from "../limiter.js";

/**
 * Sixteen keep libuv's four file threads and the event loop busy (each capture is a chain of small reads
 * and writes) while bounding capture buffers to a few tens of MiB.
 */
export const MAX_CONCURRENT_CAPTURES = 16;

const captureSlots = new Limiter(MAX_CONCURRENT_CAPTURES);

/**
 * Runs one capture once a slot is free, in arrival order. Checkpoints (which capture first) and snapshot
 * encodes take a slot too: databases started together reach their checkpoint interval together.
 */
export function withCaptureSlot<T>(capture: () => Promise<T>): Promise<T> {
  return captureSlots.run(capture, { op: "capture" });
}
