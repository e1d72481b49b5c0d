/**
 * Value checkers for config keys. Each turns a parsed TOML value into a typed value or throws a
 * FieldProblem saying what is wrong with it; the loader adds the key, the file and the line.
 */
import type { TomlValue } from "smol-toml";
import { formatDuration, parseDurationText } from "./duration.js";

export class FieldProblem extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface Field<T> {
  /** What the key takes, for messages and docs ("a duration", "true or false"). */
  readonly what: string;
  /** Redacted by `walship explain` and never logged. */
  readonly secret?: boolean;
  parse(v: TomlValue): T;
  /** How `walship explain` prints a value (default: as TOML would). */
  format?(v: T): string;
}

function shown(v: TomlValue): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return "an array";
  if (v !== null && typeof v === "object" && !(v instanceof Date)) return "a table";
  return String(v);
}

export function duration(opts: { min?: number; zeroMeans?: string } = {}): Field<number> {
  const what = opts.zeroMeans
    ? `a duration such as "1s" or "5m" ("0" = ${opts.zeroMeans})`
    : `a duration such as "1s" or "5m"`;
  return {
    what,
    format: (ms) => JSON.stringify(formatDuration(ms)),
    parse(v) {
      if (typeof v === "number" || typeof v === "bigint") {
        throw new FieldProblem(`${shown(v)} has no unit`, `write durations as strings, e.g. "${v}s"`);
      }
      if (typeof v !== "string") throw new FieldProblem(`expected ${what}, got ${shown(v)}`);
      const ms = parseDurationText(v);
      if (ms === null)
        throw new FieldProblem(`${shown(v)} is not a duration`, `use e.g. "500ms", "1s", "1m30s", "24h"`);
      if (ms === 0 && opts.zeroMeans) return 0;
      if (ms < (opts.min ?? 1)) {
        throw new FieldProblem(`${shown(v)} is too short`, `the minimum is ${opts.min ?? 1}ms`);
      }
      return ms;
    },
  };
}

export function integer(opts: { min: number; max?: number; note?: string }): Field<number> {
  const what = `a whole number >= ${opts.min}${opts.note ? ` (${opts.note})` : ""}`;
  return {
    what,
    parse(v) {
      // Strings are accepted so that "${PAGES}" from the environment works.
      const n =
        typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : typeof v === "bigint" ? Number(v) : v;
      if (typeof n !== "number" || !Number.isInteger(n))
        throw new FieldProblem(`expected ${what}, got ${shown(v)}`);
      if (n < opts.min || (opts.max !== undefined && n > opts.max)) {
        const range = opts.max === undefined ? `>= ${opts.min}` : `${opts.min}..${opts.max}`;
        throw new FieldProblem(`${n} is out of range (${range})`, opts.note);
      }
      return n;
    },
  };
}

export function boolean(): Field<boolean> {
  return {
    what: "true or false",
    parse(v) {
      if (typeof v === "boolean") return v;
      if (v === "true") return true;
      if (v === "false") return false;
      throw new FieldProblem(`expected true or false, got ${shown(v)}`);
    },
  };
}

export function text(
  opts: { secret?: boolean; oneOf?: readonly string[]; allowEmpty?: boolean } = {},
): Field<string> {
  const what = opts.oneOf ? `one of ${opts.oneOf.join(", ")}` : "a string";
  return {
    what,
    secret: opts.secret,
    parse(v) {
      if (typeof v !== "string") throw new FieldProblem(`expected ${what}, got ${shown(v)}`);
      if (!opts.allowEmpty && v.trim() === "") throw new FieldProblem("is empty");
      if (opts.oneOf && !opts.oneOf.includes(v)) {
        throw new FieldProblem(`${shown(v)} is not ${what}`);
      }
      return v;
    },
  };
}

/** host:port to listen on. A missing host means 127.0.0.1: listening on every interface must be asked for. */
export function listenAddr(): Field<{ host: string; port: number }> {
  return {
    what: `an address such as "127.0.0.1:16767" (":port" = 127.0.0.1, "0.0.0.0:port" = every interface)`,
    format: (a) => JSON.stringify(formatListenAddr(a)),
    parse(v) {
      if (typeof v !== "string") throw new FieldProblem(`expected host:port, got ${shown(v)}`);
      return parseListenAddr(v);
    },
  };
}

export function parseListenAddr(v: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]*):(\d+)$/.exec(v.trim());
  if (!m) throw new FieldProblem(`${JSON.stringify(v)} is not host:port`, `e.g. "127.0.0.1:16767"`);
  const port = Number(m[2]);
  if (port > 65_535) throw new FieldProblem(`port ${port} is out of range (0..65535)`);
  const host = m[1] === "" ? "127.0.0.1" : m[1]!.replace(/^\[|\]$/g, "");
  return { host, port };
}

export function formatListenAddr(a: { host: string; port: number }): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function httpUrl(): Field<string> {
  return {
    what: "an http:// or https:// URL",
    format: (v) => JSON.stringify(redactUrl(v)),
    parse(v) {
      if (typeof v !== "string") throw new FieldProblem(`expected an http(s) URL, got ${shown(v)}`);
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw new FieldProblem(`${JSON.stringify(redactUrl(v))} is not a URL`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") {
        throw new FieldProblem(`${JSON.stringify(redactUrl(v))} is not http:// or https://`);
      }
      return v;
    },
  };
}

/** Webhook URLs often carry a token in the path or query (Slack, Discord): show only scheme and host. */
export function redactUrl(v: string): string {
  try {
    const u = new URL(v);
    const rest = u.pathname.length > 1 || u.search ? "/***" : "";
    return `${u.protocol}//${u.host}${rest}`;
  } catch {
    return "***";
  }
}

export function listOf<T>(
  item: Field<T>,
  opts: { min?: number; max?: number; unique?: boolean } = {},
): Field<T[]> {
  const what = `an array of ${item.what.replace(/^an? /, "")}s`;
  return {
    what,
    secret: item.secret,
    format: (vs) => `[${vs.map((x) => (item.format ? item.format(x) : JSON.stringify(x))).join(", ")}]`,
    parse(v) {
      if (!Array.isArray(v)) throw new FieldProblem(`expected ${what}, got ${shown(v)}`);
      if (opts.min !== undefined && v.length < opts.min)
        throw new FieldProblem(`needs at least ${opts.min} entries`);
      if (opts.max !== undefined && v.length > opts.max)
        throw new FieldProblem(`takes at most ${opts.max} entries`);
      const out = v.map((x, i) => {
        try {
          return item.parse(x);
        } catch (e) {
          if (e instanceof FieldProblem) throw new FieldProblem(`entry ${i + 1}: ${e.message}`, e.hint);
          throw e;
        }
      });
      if (opts.unique && new Set(out.map(String)).size !== out.length)
        throw new FieldProblem("has duplicate entries");
      return out;
    },
  };
}
