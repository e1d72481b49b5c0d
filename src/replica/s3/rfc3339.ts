/**
 * RFC 3339 timestamps as Litestream stores them in `x-amz-meta-litestream-timestamp`: Go's
 * `time.Time.Format(time.RFC3339Nano)` in UTC, which trims trailing zeros of the fraction and drops the
 * dot when the fraction is zero ("2026-11-27T13:37:00.123Z", "2026-11-27T13:37:00.1Z", "2026-11-27T13:37:00Z").
 * Litestream parses the value back with time.Parse(time.RFC3339Nano, ...), which accepts any of those.
 */

/** Go RFC3339Nano of a millisecond timestamp, UTC. */
export function formatRfc3339Nano(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString(); // "YYYY-MM-DDTHH:MM:SS.mmmZ"
  const main = iso.slice(0, 19);
  const frac = iso.slice(20, 23).replace(/0+$/, "");
  return frac === "" ? `${main}Z` : `${main}.${frac}Z`;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds since the epoch (sub-millisecond digits truncated), or undefined if not RFC 3339. */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, , sign, oh, om] = m;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, "0")) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  if (Number.isNaN(t)) return undefined;
  if (sign) t -= (sign === "+" ? 1 : -1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return t;
}
