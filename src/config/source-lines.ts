/**
 * Finds the line a key is on, for error messages. smol-toml gives positions only for syntax errors, so the
 * source is scanned once: table headers ([a], [[a]], [a.b]) set the current table, `key = ...` lines are
 * recorded under it, and text inside strings and multi-line arrays is skipped. Array-of-tables entries are
 * numbered as the parser numbers them, so "the 3rd [[databases]]" maps to the right header.
 */

export type KeyPath = ReadonlyArray<string | number>;

const BARE_KEY = String.raw`[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'`;
const DOTTED = String.raw`(?:${BARE_KEY})(?:\s*\.\s*(?:${BARE_KEY}))*`;
const TABLE_ARRAY_RE = new RegExp(String.raw`^\s*\[\[\s*(${DOTTED})\s*\]\]`);
const TABLE_RE = new RegExp(String.raw`^\s*\[\s*(${DOTTED})\s*\]`);
const KEY_RE = new RegExp(String.raw`^\s*(${DOTTED})\s*=`);
const PART_RE = new RegExp(BARE_KEY, "g");

function splitDotted(s: string): string[] {
  return (s.match(PART_RE) ?? []).map((p) =>
    p.startsWith('"') ? (JSON.parse(p) as string) : p.startsWith("'") ? p.slice(1, -1) : p,
  );
}

function keyOf(path: KeyPath): string {
  return JSON.stringify(path);
}

export class SourceLines {
  private readonly lines = new Map<string, number>();

  constructor(source: string) {
    const arrays = new Map<string, number>();
    let table: Array<string | number> = [];
    let depth = 0;
    let multiline: '"""' | "'''" | null = null;
    const src = source.split(/\r?\n/);
    for (let i = 0; i < src.length; i++) {
      const line = src[i]!;
      const lineNo = i + 1;
      let rest = line;
      if (multiline === null && depth === 0) {
        const ta = TABLE_ARRAY_RE.exec(line);
        const t = ta ? null : TABLE_RE.exec(line);
        if (ta || t) {
          const parts = splitDotted((ta ?? t)![1]!);
          const resolved: Array<string | number> = [];
          parts.forEach((p, j) => {
            resolved.push(p);
            const k = keyOf(resolved);
            if (ta && j === parts.length - 1) {
              const n = (arrays.get(k) ?? 0) + 1;
              arrays.set(k, n);
              resolved.push(n - 1);
            } else if (arrays.has(k)) {
              resolved.push(arrays.get(k)! - 1);
            }
          });
          table = resolved;
          this.record(table, lineNo);
          continue;
        }
        const kv = KEY_RE.exec(line);
        if (kv) {
          this.record([...table, ...splitDotted(kv[1]!)], lineNo);
          rest = line.slice(kv[0].length);
        }
      }
      ({ depth, multiline } = scanValue(rest, depth, multiline));
    }
  }

  private record(path: KeyPath, line: number): void {
    const k = keyOf(path);
    if (!this.lines.has(k)) this.lines.set(k, line);
  }

  /** The line of the key, else of the nearest enclosing key or table that is written in the file. */
  lineOf(path: KeyPath): number | null {
    for (let n = path.length; n > 0; n--) {
      const line = this.lines.get(keyOf(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return null;
  }
}

/** Tracks open brackets and multi-line strings across a value so their lines are not read as keys. */
function scanValue(
  s: string,
  depth: number,
  multiline: '"""' | "'''" | null,
): { depth: number; multiline: '"""' | "'''" | null } {
  let i = 0;
  while (i < s.length) {
    if (multiline) {
      const end = s.indexOf(multiline, i);
      if (end < 0) return { depth, multiline };
      i = end + 3;
      multiline = null;
      continue;
    }
    const c = s[i]!;
    if (c === "#") break;
    if (s.startsWith('"""', i) || s.startsWith("'''", i)) {
      multiline = s.slice(i, i + 3) as '"""' | "'''";
      i += 3;
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      while (i < s.length && s[i] !== c) i += s[i] === "\\" && c === '"' ? 2 : 1;
      i++;
      continue;
    }
    if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth = Math.max(0, depth - 1);
    i++;
  }
  return { depth, multiline };
}
