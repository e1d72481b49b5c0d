/**
 * Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with the configured secret, sent as
 * `X-Walship-Signature: sha256=<hex>` with `X-Walship-Timestamp: <unix seconds>`. Signing the timestamp
 * lets a receiver refuse replays of an old delivery (Stripe's scheme).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-walship-signature";
export const TIMESTAMP_HEADER = "x-walship-timestamp";

export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** For receivers (and tests): constant-time check of a signature header. */
export function verify(secret: string, timestamp: number, body: string, header: string): boolean {
  const want = Buffer.from(sign(secret, timestamp, body));
  const got = Buffer.from(header);
  return want.length === got.length && timingSafeEqual(want, got);
}
