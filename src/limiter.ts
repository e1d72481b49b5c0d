/**
 * A counting semaphore for work shared by every database in the process. One `walship watch` runs a
 * Replicator per database, and work that is cheap for one database (a compaction holds a read buffer per
 * input) multiplies by the number of databases when they all do it at once, as level compactions do at
 * the same wall-clock boundaries. A process-wide limit bounds that memory by the limit instead.
 */
import { abortError } from "./errors.js";

export class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`limiter needs max >= 1, got ${max}`);
  }

  /** Runs fn once a slot is free (first come, first served); a wait ends early when the signal aborts. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal, op = "wait for a slot"): Promise<T> {
    await this.acquire(signal, op);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Slots in use and callers waiting (for metrics and tests). */
  get stats(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.queue.length };
  }

  private acquire(signal: AbortSignal | undefined, op: string): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(op));
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const i = this.queue.indexOf(grant);
        if (i >= 0) this.queue.splice(i, 1);
        reject(abortError(op));
      };
      this.queue.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private release(): void {
    this.active--;
    this.queue.shift()?.();
  }
}
