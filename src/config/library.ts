/** Config loading for library users: the same walship.toml `walship watch --config` reads. */
import { loadConfigFile } from "./load.js";
import { type CliSettings, type EffectiveConfig, resolveConfig } from "./resolve.js";

/**
 * Reads and checks a walship.toml (throws WalshipError code "config" naming key, file and line) and
 * returns the effective configuration; pass its databases and s3 table to `new Store(...)`.
 */
export function loadConfig(
  path: string,
  opts: { env?: NodeJS.ProcessEnv; expandEnv?: boolean; overrides?: CliSettings } = {},
): EffectiveConfig {
  const env = opts.env ?? process.env;
  return resolveConfig(
    loadConfigFile(path, { env, expandEnv: opts.expandEnv }),
    opts.overrides ?? {},
    [],
    env,
  );
}
