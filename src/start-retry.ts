/**
 * Start-up against storage that is briefly unwell. A store that throttles, answers 5xx or drops a
 * connection for a moment while the box boots must not end replication before it began, so such errors
 * are retried for a while; a wrong endpoint (nothing listens, the host does not resolve), bad credentials
 * or a missing bucket fail at once, with their own message and exit code.
 */
import type { Clock } from "./clock.js";
import { WalshipError } from "./errors.js";

/** How long start-up keeps retrying (ms): longer than a typical store hiccup, short enough to surface. */
export const START_RETRY_WINDOW_MS = 60_000;
/** First wait between start attempts (ms), doubled each time up to START_RETRY_MAX_DELAY_MS. */
export const START_RETRY_BASE_DELAY_MS = 1_000;
export const START_RETRY_MAX_DELAY_MS = 10_000;

/** Errnos that mean "wrong address" rather than "busy server": retrying cannot help. */
const ADDRESS_ERRNOS = new Set(["ECONNREFUSED", "ENOTFOUND"]);

export function retryableAtStart(e: unknown): e is WalshipError {
  if (!(e instanceof WalshipError) || !e.retryable) return false;
  if (e.code !== "storage_connection" && e.code !== "storage_throttled") return false;
  return !ADDRESS_ERRNOS.has(String(e.context.errno ?? ""));
}

export interface StartRetryOptions {
  clock: Clock;
  signal?: AbortSignal;
  /** 0 disables retrying. */
  windowMs?: number;
  onRetry?: (error: WalshipError, attempt: number, delayMs: number) => void;
  random?: () => number;
}

/** Something started once per attempt (a Replicator): a failed start leaves nothing behind to reuse. */
export interface Startable {
  start(signal?: AbortSignal): Promise<void>;
}

/**
 * Makes and starts a fresh instance until one starts, an error retrying cannot fix occurs, or the window
 * is over; returns the started instance.
 */
export async function startWithRetry<T extends Startable>(make: () => T, o: StartRetryOptions): Promise<T> {
  const until = o.clock.now() + (o.windowMs ?? START_RETRY_WINDOW_MS);
  const random = o.random ?? Math.random;
  for (let n = 1; ; n++) {
    try {
      const started = make();
      await started.start(o.signal);
      return started;
    } catch (e) {
      if (!retryableAtStart(e) || o.signal?.aborted) throw e;
      const cap = Math.min(START_RETRY_MAX_DELAY_MS, START_RETRY_BASE_DELAY_MS * 2 ** (n - 1));
      // Half fixed, half jitter: many databases failing together must not retry in lockstep.
      const delay = Math.round(cap / 2 + (random() * cap) / 2);
      if (o.clock.now() + delay > until) throw e;
      o.onRetry?.(e, n, delay);
      await o.clock.sleep(delay, o.signal);
      if (o.signal?.aborted) throw e;
    }
  }
}
