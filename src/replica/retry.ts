/**
 * A small retry loop for idempotent storage requests: exponential backoff with full jitter
 * (delay = random() * min(maxDelayMs, baseDelayMs * 2^(attempt-1))), only for errors that say they are
 * retryable, and it stops at once when the caller's AbortSignal fires. Sleep and randomness are injectable
 * so tests run without waiting.
 *
 * This is the *inner* retry of one request (a handful of attempts over about a second). Long outages are
 * the business of the caller's loop, which retries the whole sync on the next tick.
 */

import { abortError, isWalshipError } from "../errors.js";

/** Attempts per request, the first one included. Three covers a dropped keep-alive socket and a brief blip. */
export const DEFAULT_RETRY_ATTEMPTS = 3;
/** First backoff ceiling in ms; doubles per attempt. */
export const DEFAULT_RETRY_BASE_DELAY_MS = 100;
/** Largest single backoff in ms, so the inner retry never holds a sync tick for long. */
export const DEFAULT_RETRY_MAX_DELAY_MS = 2_000;

export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface RetryOptions {
  /** Total attempts including the first (default DEFAULT_RETRY_ATTEMPTS). */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Operation name used in the "aborted" error. */
  op?: string;
  sleep?: SleepFn;
  /** Returns a number in [0, 1). */
  random?: () => number;
  /** Decides whether an error is worth another attempt (default: a WalshipError with retryable = true). */
  isRetryable?: (err: unknown) => boolean;
  /** Called before each backoff sleep. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Full-jitter backoff for the given 1-based attempt that just failed. */
export function backoffDelay(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** setTimeout as a promise that rejects with an "aborted" WalshipError when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError("sleep"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError("sleep"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function defaultIsRetryable(err: unknown): boolean {
  return isWalshipError(err) && err.retryable;
}

/**
 * Run fn until it succeeds, fails with a non-retryable error, or the attempts run out (then the last
 * error is thrown). fn receives the 1-based attempt number.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, opts.attempts ?? DEFAULT_RETRY_ATTEMPTS);
  const base = opts.baseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
  const max = opts.maxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS;
  const doSleep = opts.sleep ?? sleep;
  const random = opts.random ?? Math.random;
  const retryable = opts.isRetryable ?? defaultIsRetryable;
  const op = opts.op ?? "retry";
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw abortError(op);
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw isWalshipError(err, "aborted") ? err : abortError(op);
      if (attempt >= attempts || !retryable(err)) throw err;
      const delay = backoffDelay(attempt, base, max, random);
      opts.onRetry?.(err, attempt, delay);
      try {
        await doSleep(delay, opts.signal);
      } catch {
        throw abortError(op);
      }
    }
  }
}

/**
 * Map items with at most `limit` calls in flight, results in input order. The first failure rejects the
 * whole call and stops new calls from starting (calls already running finish on their own).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const n = Math.max(1, Math.min(limit, items.length));
  const workers: Promise<void>[] = [];
  for (let i = 0; i < n; i++) workers.push(worker());
  await Promise.all(workers);
  return results;
}
