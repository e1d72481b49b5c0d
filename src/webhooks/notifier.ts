/**
 * Sends webhook events to the configured URLs without ever blocking replication: observe() only
 * enqueues (bounded; the oldest is dropped when full), deliveries run in the background with a few in
 * flight, each retried with exponential backoff and full jitter on network errors, timeouts, 408, 429 and
 * 5xx. The same event for the same database is sent at most once per DEDUPE_MS, so a store that is down
 * for an hour does not page someone every 15 seconds.
 */
import type { WebhookEventName } from "../config/schema.js";
import type { Logger } from "../log.js";
import { backoffDelay } from "../replica/retry.js";
import type { StoreEvent } from "../store.js";
import { eventNameFor, payloadFor, type WebhookPayload } from "./event.js";
import { SIGNATURE_HEADER, sign, TIMESTAMP_HEADER } from "./signature.js";

/** Queued deliveries kept at most; beyond that the oldest is dropped (and the drop logged). */
export const WEBHOOK_QUEUE_MAX = 1_000;
/** Deliveries in flight at once. */
export const WEBHOOK_CONCURRENCY = 4;
/** First retry delay ceiling (ms), doubled per attempt up to WEBHOOK_BACKOFF_MAX_MS. */
export const WEBHOOK_BACKOFF_BASE_MS = 1_000;
export const WEBHOOK_BACKOFF_MAX_MS = 30_000;
/** Repeats of one (event, database) within this window (ms) are not sent again. */
export const DEDUPE_MS = 60_000;

export interface WebhookSettings {
  urls: string[];
  secret?: string;
  events: WebhookEventName[];
  timeoutMs: number;
  maxAttempts: number;
}

interface Delivery {
  url: string;
  payload: WebhookPayload;
  attempt: number;
}

export interface NotifierOptions {
  log?: Logger;
  now?: () => number;
  random?: () => number;
  /** Overrides the backoff (tests). */
  backoff?: (attempt: number) => number;
  dedupeMs?: number;
}

export class WebhookNotifier {
  private readonly queue: Delivery[] = [];
  private inFlight = 0;
  private readonly lastSent = new Map<string, number>();
  private closing = false;
  private readonly abort = new AbortController();
  private idle: Array<() => void> = [];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Counters for tests and logs. */
  readonly stats = { sent: 0, failed: 0, dropped: 0, retried: 0 };

  constructor(
    private readonly cfg: WebhookSettings,
    private readonly opts: NotifierOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
  }

  observe(e: StoreEvent): void {
    if (this.closing || this.cfg.urls.length === 0) return;
    const name = eventNameFor(e);
    if (!name || !this.cfg.events.includes(name)) return;
    const key = `${name}\0${e.db}`;
    const now = this.now();
    const last = this.lastSent.get(key);
    if (last !== undefined && now - last < (this.opts.dedupeMs ?? DEDUPE_MS)) return;
    this.lastSent.set(key, now);
    const payload = payloadFor(e, name, now);
    for (const url of this.cfg.urls) this.enqueue({ url, payload, attempt: 0 });
  }

  private enqueue(d: Delivery): void {
    if (this.queue.length >= WEBHOOK_QUEUE_MAX) {
      this.queue.shift();
      this.stats.dropped++;
      this.log("warn", "webhook queue full: dropped the oldest event", { queued: this.queue.length });
    }
    this.queue.push(d);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < WEBHOOK_CONCURRENCY && this.queue.length > 0) {
      const d = this.queue.shift()!;
      this.inFlight++;
      void this.deliver(d).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0 && this.timers.size === 0) {
          for (const f of this.idle.splice(0)) f();
        }
      });
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    d.attempt++;
    const body = JSON.stringify(d.payload);
    const ts = Math.floor(this.now() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "walship-webhook",
      "x-walship-event": d.payload.event,
      "x-walship-delivery": d.payload.id,
      [TIMESTAMP_HEADER]: String(ts),
    };
    if (this.cfg.secret) headers[SIGNATURE_HEADER] = sign(this.cfg.secret, ts, body);
    let retry: boolean;
    let why: string;
    try {
      // One controller for both the timeout and close() (AbortSignal.any needs Node 20.3).
      const ac = new AbortController();
      const onClose = () => ac.abort();
      this.abort.signal.addEventListener("abort", onClose, { once: true });
      const timer = setTimeout(() => ac.abort(), this.cfg.timeoutMs);
      let res: Response;
      try {
        res = await fetch(d.url, { method: "POST", headers, body, signal: ac.signal, redirect: "manual" });
        await res.body?.cancel().catch(() => {});
      } finally {
        clearTimeout(timer);
        this.abort.signal.removeEventListener("abort", onClose);
      }
      if (res.status >= 200 && res.status < 300) {
        this.stats.sent++;
        return;
      }
      retry = res.status === 408 || res.status === 429 || res.status >= 500;
      why = `HTTP ${res.status}`;
    } catch (e) {
      retry = !this.abort.signal.aborted;
      why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    }
    const host = new URL(d.url).host;
    if (!retry || d.attempt >= this.cfg.maxAttempts) {
      this.stats.failed++;
      this.log("warn", "webhook not delivered", {
        event: d.payload.event,
        host,
        attempts: d.attempt,
        error: why,
      });
      return;
    }
    this.stats.retried++;
    const wait =
      this.opts.backoff?.(d.attempt) ??
      backoffDelay(
        d.attempt,
        WEBHOOK_BACKOFF_BASE_MS,
        WEBHOOK_BACKOFF_MAX_MS,
        this.opts.random ?? Math.random,
      );
    this.log("debug", "webhook failed, will retry", {
      event: d.payload.event,
      host,
      attempt: d.attempt,
      error: why,
      waitMs: wait,
    });
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.abort.signal.aborted) return;
      this.queue.push(d);
      this.pump();
    }, wait);
    t.unref?.();
    this.timers.add(t);
  }

  /** Stops taking events and waits up to deadlineMs for queued deliveries; the rest are dropped. */
  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    if (this.inFlight > 0 || this.queue.length > 0 || this.timers.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadlineMs);
        t.unref?.();
        this.idle.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
