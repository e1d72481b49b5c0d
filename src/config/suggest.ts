/** "Did you mean" hints for unknown config keys: near misses, and the Litestream names users migrate from. */

/** Litestream YAML keys and the walship.toml key that means the same. */
const LITESTREAM_NAMES: Record<string, string> = {
  dbs: "[[databases]]",
  addr: '[metrics] addr = "127.0.0.1:16767"',
  "monitor-interval": "sync-interval",
  "min-checkpoint-page-count": "checkpoint-pages",
  "truncate-page-n": "truncate-pages",
  replicas: "replica (one replica URL per database)",
  url: "replica",
  logging: "[log]",
  levels: "[compaction] levels",
  "l0-retention": "[retention] l0",
  "snapshot.retention":
    "[retention] window (continuous point-in-time history) and hourly/daily/weekly/monthly",
  "l0-retention-check-interval": "nothing: retention is checked every 15 s",
  "shutdown-sync-timeout": "[sync] shutdown-timeout",
  database: "[[databases]]",
  db: "[[databases]]",
};

function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

export function suggestKey(key: string, known: readonly string[], table?: string): string {
  const alias = (table ? LITESTREAM_NAMES[`${table}.${key}`] : undefined) ?? LITESTREAM_NAMES[key];
  if (alias) return `walship calls this ${alias}`;
  const kebab = key
    .replace(/_/g, "-")
    .replace(/([a-z])([A-Z])/g, "$1-$2")
    .toLowerCase();
  if (kebab !== key && known.includes(kebab)) return `did you mean "${kebab}"? (keys are kebab-case)`;
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const dd = distance(key, k);
    if (dd < bestD) {
      bestD = dd;
      best = k;
    }
  }
  if (best !== null && bestD <= Math.max(2, Math.floor(key.length / 3))) return `did you mean "${best}"?`;
  return `known keys here: ${known.join(", ")}`;
}
