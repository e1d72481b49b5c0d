/**
 * Reads walship.toml: TOML syntax (smol-toml), then every table and key against the schema. Any unknown
 * key or bad value is a WalshipError with code "config" whose message starts with `<file>:<line>:` and
 * names the key, so the user can jump straight to it.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseToml, TomlError, type TomlTable, type TomlValue } from "smol-toml";
import { WalshipError } from "../errors.js";
import { expandEnv } from "./env.js";
import { type Field, FieldProblem } from "./fields.js";
import {
  COMPACTION,
  DATABASE,
  DATABASE_TABLES,
  RETENTION,
  SECTIONS,
  type SectionName,
  type Spec,
  TOP_LEVEL,
  type Values,
} from "./schema.js";
import { type KeyPath, SourceLines } from "./source-lines.js";
import { suggestKey } from "./suggest.js";

export interface DatabaseEntry {
  /** 0-based position among the [[databases]] entries. */
  index: number;
  values: Values<typeof DATABASE> & { path: string; replica: string };
  retention: Values<typeof RETENTION>;
  compaction: Values<typeof COMPACTION>;
}

export type SectionValues = { [K in SectionName]: Values<(typeof SECTIONS)[K]> };

export interface ConfigFile {
  /** The path as the user gave it (messages), and its directory (relative paths in the file are resolved against it). */
  file: string;
  dir: string;
  exec?: string;
  sections: SectionValues;
  databases: DatabaseEntry[];
  /** For errors found after loading (e.g. conflicting values from two tables). */
  lines: SourceLines;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** false leaves `${NAME}` as written (the --no-expand-env flag). */
  expandEnv?: boolean;
}

/** Human name of where a key lives: `key "l0" in [databases.retention] of [[databases]] #2`. */
export function describeKey(path: KeyPath): string {
  const key = path[path.length - 1];
  const table = path.slice(0, -1);
  const name = typeof key === "string" ? `key "${key}"` : `entry #${(key ?? 0) + 1}`;
  if (table.length === 0) return name;
  return `${name} in ${describeTable(table)}`;
}

export function describeTable(path: KeyPath): string {
  if (path[0] === "databases" && typeof path[1] === "number") {
    const entry = `[[databases]] #${path[1] + 1}`;
    return path.length > 2 ? `[databases.${path.slice(2).join(".")}] of ${entry}` : entry;
  }
  return `[${path.join(".")}]`;
}

export function configError(
  file: string,
  lines: SourceLines | null,
  path: KeyPath,
  problem: string,
  hint?: string,
): WalshipError {
  const line = lines?.lineOf(path) ?? 1;
  const key = path.filter((p) => typeof p === "string").join(".");
  return new WalshipError("config", `${file}:${line}: ${describeKey(path)}: ${problem}`, {
    op: "load config",
    context: { path: file, key, line },
    hint,
  });
}

export function loadConfigFile(file: string, opts: LoadOptions = {}): ConfigFile {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WalshipError("config", `cannot read config file ${file}: ${code ?? (e as Error).message}`, {
      op: "load config",
      context: { path: file },
      hint: code === "ENOENT" ? "check the --config path" : undefined,
    });
  }
  return parseConfig(source, file, opts);
}

export function parseConfig(source: string, file: string, opts: LoadOptions = {}): ConfigFile {
  let doc: TomlTable;
  try {
    doc = parseToml(source);
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0] ?? "syntax error";
      throw new WalshipError("config", `${file}:${e.line}:${e.column}: TOML syntax error: ${first}`, {
        op: "load config",
        context: { path: file, line: e.line },
        hint: "see https://toml.io for the syntax",
      });
    }
    throw e;
  }
  const lines = new SourceLines(source);
  const env = opts.env ?? process.env;
  const reader = new TableReader(file, lines, opts.expandEnv === false ? null : env);

  const sections = {} as Record<SectionName, Record<string, unknown>>;
  for (const name of Object.keys(SECTIONS) as SectionName[]) sections[name] = {};
  let databases: DatabaseEntry[] = [];
  let exec: string | undefined;
  for (const [key, value] of Object.entries(doc)) {
    if (key === "databases") {
      databases = readDatabases(reader, value);
    } else if (key in SECTIONS) {
      const name = key as SectionName;
      sections[name] = reader.table([name], value, SECTIONS[name]);
    } else if (key in TOP_LEVEL) {
      exec = reader.value(["exec"], value, TOP_LEVEL.exec);
    } else {
      throw reader.unknown(
        [key],
        [...Object.keys(SECTIONS), ...Object.keys(TOP_LEVEL), "databases"],
        isTable(value),
      );
    }
  }
  if (databases.length === 0) {
    throw configError(
      file,
      lines,
      ["databases"],
      "no [[databases]] entries",
      "add at least one [[databases]] with path and replica",
    );
  }
  checkLevels(reader, ["compaction", "levels"], sections.compaction.levels as number[] | undefined);
  return {
    file,
    dir: dirname(resolve(file)),
    exec,
    sections: sections as SectionValues,
    databases,
    lines,
  };
}

function readDatabases(reader: TableReader, value: TomlValue): DatabaseEntry[] {
  if (!Array.isArray(value) || value.some((v) => !isTable(v))) {
    throw reader.error(
      ["databases"],
      "must be written as [[databases]] tables",
      "write [[databases]] once per database",
    );
  }
  const seen = new Map<string, number>();
  return (value as TomlTable[]).map((t, index) => {
    const at = ["databases", index] as const;
    const values = reader.table([...at], t, DATABASE, Object.keys(DATABASE_TABLES));
    for (const required of ["path", "replica"] as const) {
      if (values[required] === undefined) {
        throw reader.error([...at, required], `missing (every [[databases]] needs path and replica)`);
      }
    }
    const prev = seen.get(values.path!);
    if (prev !== undefined) {
      throw reader.error([...at, "path"], `"${values.path}" is already listed in [[databases]] #${prev + 1}`);
    }
    seen.set(values.path!, index);
    const retention =
      t.retention === undefined ? {} : reader.table([...at, "retention"], t.retention, RETENTION);
    const compaction =
      t.compaction === undefined ? {} : reader.table([...at, "compaction"], t.compaction, COMPACTION);
    checkLevels(reader, [...at, "compaction", "levels"], compaction.levels);
    return { index, values: values as DatabaseEntry["values"], retention, compaction };
  });
}

function checkLevels(reader: TableReader, path: KeyPath, levels: number[] | undefined): void {
  if (!levels) return;
  for (let i = 1; i < levels.length; i++) {
    if (levels[i]! <= levels[i - 1]!) {
      throw reader.error(
        path,
        `entry ${i + 1} is not longer than entry ${i}`,
        'each level compacts less often than the one below it, e.g. ["30s", "5m", "1h"]',
      );
    }
  }
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

class TableReader {
  constructor(
    private readonly file: string,
    private readonly lines: SourceLines,
    private readonly env: NodeJS.ProcessEnv | null,
  ) {}

  error(path: KeyPath, problem: string, hint?: string): WalshipError {
    return configError(this.file, this.lines, path, problem, hint);
  }

  unknown(path: KeyPath, known: string[], isTableValue = false): WalshipError {
    const key = String(path[path.length - 1]);
    const line = this.lines.lineOf(path) ?? 1;
    const where =
      path.length === 1
        ? isTableValue
          ? `unknown table [${key}]`
          : `unknown key "${key}"`
        : `unknown key "${key}" in ${describeTable(path.slice(0, -1))}`;
    return new WalshipError("config", `${this.file}:${line}: ${where}`, {
      op: "load config",
      context: { path: this.file, key: path.filter((p) => typeof p === "string").join("."), line },
      hint: suggestKey(key, known, path.length === 2 ? String(path[0]) : undefined),
    });
  }

  /** undefined when the value is only environment references that expand to nothing ("${KEY:-}"). */
  value<T>(path: KeyPath, raw: TomlValue, field: Field<T>): T | undefined {
    try {
      const v = this.env ? expandEnv(raw, this.env) : raw;
      if (v === "" && typeof raw === "string" && raw.includes("${")) return undefined;
      return field.parse(v);
    } catch (e) {
      if (e instanceof FieldProblem) {
        // A secret's value must not reach a terminal or a log, even when it is wrong.
        const secret = field.secret && !/environment variable/.test(e.message);
        const problem = secret
          ? `invalid value (not shown: it is a secret); expected ${field.what}`
          : e.message;
        throw this.error(path, problem, secret ? undefined : e.hint);
      }
      throw e;
    }
  }

  table<S extends Spec>(path: KeyPath, raw: TomlValue, spec: S, subTables: string[] = []): Values<S> {
    if (!isTable(raw)) throw this.error(path, `must be a table, e.g. [${path.join(".")}]`);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (subTables.includes(key)) continue;
      const field = spec[key];
      if (!field) throw this.unknown([...path, key], [...Object.keys(spec), ...subTables]);
      const v = this.value([...path, key], value, field);
      if (v !== undefined) out[key] = v;
    }
    return out as Values<S>;
  }
}
