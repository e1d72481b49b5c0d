/**
 * `${NAME}` expansion in config string values, done after TOML parsing so that a value from the
 * environment can never change the file's structure and line numbers stay true. `${NAME:-default}` gives
 * a fallback; `$$` is a literal `$`. An unset variable without a default is an error: an empty bucket name
 * or secret would fail later with a far worse message.
 */
import type { TomlValue } from "smol-toml";
import { FieldProblem } from "./fields.js";

const REF_RE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function expandEnvString(s: string, env: NodeJS.ProcessEnv): string {
  return s.replace(REF_RE, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === "$$") return "$";
    const v = env[name!];
    if (v !== undefined && v !== "") return v;
    if (fallback !== undefined) return fallback;
    throw new FieldProblem(
      `environment variable ${name} is not set`,
      `set it, or write \${${name}:-default} to give a default`,
    );
  });
}

export function expandEnv(v: TomlValue, env: NodeJS.ProcessEnv): TomlValue {
  if (typeof v === "string") return expandEnvString(v, env);
  if (Array.isArray(v)) return v.map((x) => expandEnv(x, env));
  return v;
}
