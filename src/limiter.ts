/**
 * A semaphore for work shared by every database in the process. One `walship watch` runs a Replicator per
 * database, and work that is cheap for one database (a compaction holds a read buffer per input, an
 * upload holds its file) multiplies by the number of databases when they all do it at once, as level
 * compactions do at the same wall-clock boundary and uploads do when the store or the CPU falls behind.
 * A process-wide limit bounds that memory by the limit instead of by the number of databases.
 *
 * Each job takes a weight (1 by default; bytes for a byte budget). Waiters are served first come, first
 * served: a heavy job at the head of the queue is not overtaken by light ones, so it cannot starve. A job
 * heavier than the whole limit runs alone.
 */
import { abortError } from "./errors.js";

export interface SlotOptions {
  signal?: AbortSignal;
  /** Names the wait in the abort error. */
  op?: string;
  /** Share of the limit this job holds while it runs (default 1). */
  weight?: number;
}

interface Waiter {
  weight: number;
  grant: () => void;
}

export class Limiter {
  private used = 0;
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`limiter needs max >= 1, got ${max}`);
  }

  /** Runs fn once its weight fits (in arrival order); a wait ends early when the signal aborts. */
  async run<T>(fn: () => Promise<T>, opts: SlotOptions = {}): Promise<T> {
    const weight = Math.min(this.max, Math.max(1, Math.ceil(opts.weight ?? 1)));
    await this.acquire(weight, opts);
    try {
      return await fn();
    } finally {
      this.release(weight);
    }
  }

  /** Weight in use, jobs running and jobs waiting (for metrics and tests). */
  get stats(): { used: number; running: number; waiting: number } {
    return { used: this.used, running: this.running, waiting: this.queue.length };
  }

  private fits(weight: number): boolean {
    return this.used + weight <= this.max;
  }

  private acquire(weight: number, opts: SlotOptions): Promise<void> {
    const op = opts.op ?? "wait for a slot";
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(abortError(op));
    if (this.queue.length === 0 && this.fits(weight)) {
      this.used += weight;
      this.running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        weight,
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(abortError(op));
        // The head may have been the one blocking those behind it.
        this.drain();
      };
      this.queue.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private release(weight: number): void {
    this.used -= weight;
    this.running--;
    this.drain();
  }

  private drain(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.weight)) {
      const w = this.queue.shift()!;
      this.used += w.weight;
      this.running++;
      w.grant();
    }
  }
}
