/**
 * `walship explain` output: the effective configuration as TOML a user could paste back, one
 * [[databases]] block per entry with the files a glob matches now, and after each value a comment saying
 * where it came from. Secrets are printed as "(redacted)"; webhook URLs only as scheme and host.
 */

import { globRelative } from "./glob.js";
import { childReplicaUrl } from "./replica.js";
import type { EffectiveConfig, ExplainRow } from "./resolve.js";

const COMMENT_COLUMN = 44;

function line(r: ExplainRow, key = r.key): string {
  const text = `${key} = ${r.value}`;
  return `${text.padEnd(COMMENT_COLUMN - 1)} # ${r.origin}`;
}

function tableOf(rows: ExplainRow[], table: string): ExplainRow[] {
  return rows.filter((r) => r.key.startsWith(`${table}.`));
}

export interface ExplainJson {
  file: string | null;
  global: Record<string, { value: string; origin: string }>;
  databases: Array<{
    path: string;
    glob: boolean;
    replica: string;
    source: string;
    settings: Record<string, { value: string; origin: string }>;
    matches?: Array<{ db: string; replica: string }>;
  }>;
}

function rowsToObject(rows: ExplainRow[]): Record<string, { value: string; origin: string }> {
  return Object.fromEntries(rows.map((r) => [r.key, { value: r.value, origin: r.origin }]));
}

export function explainJson(cfg: EffectiveConfig, matches: Map<string, string[]>): ExplainJson {
  return {
    file: cfg.file,
    global: rowsToObject(cfg.rows),
    databases: cfg.databases.map((d) => ({
      path: d.path,
      glob: d.glob,
      replica: d.replica,
      source: d.source,
      settings: rowsToObject(d.rows),
      matches: d.glob
        ? (matches.get(d.path) ?? []).map((m) => ({
            db: m,
            replica: childReplicaUrl(d.replica, globRelative(d.path, m)),
          }))
        : undefined,
    })),
  };
}

export function explainText(cfg: EffectiveConfig, matches: Map<string, string[]>): string {
  const out: string[] = [
    `# Effective walship configuration${cfg.file ? ` from ${cfg.file}` : " from the command line"}.`,
    "# Each value is followed by where it came from; secrets are redacted.",
    "",
  ];
  const exec = cfg.rows.find((r) => r.key === "exec");
  if (exec) out.push(line(exec), "");
  for (const table of ["sync", "metrics", "log", "s3", "webhooks"]) {
    const rows = tableOf(cfg.rows, table);
    if (rows.length === 0) continue;
    out.push(`[${table}]`, ...rows.map((r) => line(r, r.key.slice(table.length + 1))), "");
  }
  for (const d of cfg.databases) {
    out.push(`${"[[databases]]".padEnd(COMMENT_COLUMN - 1)} # ${d.source}`);
    out.push(`path = ${JSON.stringify(d.path)}`, `replica = ${JSON.stringify(d.replica)}`);
    const nested = (r: ExplainRow) => r.key.includes(".");
    out.push(...d.rows.filter((r) => !nested(r)).map((r) => line(r)));
    for (const sub of ["retention", "compaction"]) {
      out.push(
        `[databases.${sub}]`,
        ...tableOf(d.rows, sub).map((r) => line(r, r.key.slice(sub.length + 1))),
      );
    }
    if (d.glob) {
      const m = matches.get(d.path) ?? [];
      out.push(`# matches now (${m.length}; files created later are picked up while running):`);
      for (const db of m) out.push(`#   ${db} -> ${childReplicaUrl(d.replica, globRelative(d.path, db))}`);
    }
    out.push("");
  }
  return out.join("\n");
}
