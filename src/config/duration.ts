/**
 * Durations as config files write them: Go's syntax (what Litestream users already write), e.g. "500ms",
 * "1s", "1m30s", "24h", plus "d" for days. A bare "0" means off where a key allows it.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds, or null when the text is not a duration. */
export function parseDurationText(text: string): number | null {
  const s = text.trim();
  if (s === "0") return 0;
  if (s === "") return null;
  let total = 0;
  PART_RE.lastIndex = 0;
  while (PART_RE.lastIndex < s.length) {
    const at = PART_RE.lastIndex;
    const m = PART_RE.exec(s);
    if (!m || m.index !== at) return null;
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
  }
  return Math.round(total);
}

/** The shortest exact text for a duration, e.g. 90000 -> "1m30s", 1500 -> "1.5s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  if (ms < 1000) return `${ms}ms`;
  if (ms % 1000 !== 0) return `${ms / 1000}s`;
  let s = ms / 1000;
  const parts: string[] = [];
  // Hours, not days, at the top: Go (and so Litestream) has no "d", and "24h" is what users write.
  for (const [unit, size] of [
    ["h", 3_600],
    ["m", 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0) parts.push(`${s}s`);
  return parts.join("");
}
