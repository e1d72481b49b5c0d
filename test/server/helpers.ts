/** Parsing helpers for the Prometheus text the server writes (strict enough to catch format mistakes). */
import assert from "node:assert/strict";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses and validates: TYPE before samples, known types, no duplicate series, numeric values. */
export function parseProm(text: string): { samples: Sample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        assert.ok(["gauge", "counter", "histogram"].includes(meta[3]!), line);
        assert.ok(!types.has(meta[2]!), `TYPE twice for ${meta[2]}`);
        types.set(meta[2]!, meta[3]!);
      } else helps.add(meta[2]!);
      continue;
    }
    const m = SAMPLE_RE.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(family), `sample before its TYPE: ${line}`);
    assert.ok(helps.has(family), `no HELP for ${family}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(LABEL_RE))
      labels[l[1]!] = l[2]!.replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    const value = m[4] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[4]);
    assert.ok(!Number.isNaN(value) || m[4] === "NaN", `bad value: ${line}`);
    const key = `${name}${m[2] ?? ""}`;
    assert.ok(!seen.has(key), `duplicate series ${key}`);
    seen.add(key);
    samples.push({ name, labels, value });
  }
  return { samples, types };
}

export function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}
