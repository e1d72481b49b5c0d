// Loaded into the walship process under soak (NODE_OPTIONS=--import=<this file>): every
// SOAK_PROBE_INTERVAL_MS it appends one JSON line of V8 heap figures to SOAK_PROBE_FILE, because a heap
// is only visible from inside its process. The timer is unref'd and errors are ignored: the probe must
// never keep walship alive or change how it behaves.
import { appendFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";

const file = process.env.SOAK_PROBE_FILE;
const every = Number(process.env.SOAK_PROBE_INTERVAL_MS ?? 1000);
if (file) {
  setInterval(() => {
    try {
      const h = getHeapStatistics();
      const m = process.memoryUsage();
      appendFileSync(
        file,
        `${JSON.stringify({ t: Date.now(), pid: process.pid, heapUsed: h.used_heap_size, heapTotal: h.total_heap_size, external: m.external, arrayBuffers: m.arrayBuffers })}\n`,
      );
    } catch {
      // A full disk or a removed file must not disturb walship.
    }
  }, every).unref();
}
