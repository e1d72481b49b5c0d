import { explainJson, explainText } from "../config/explain.js";
import { CONFIG_FLAGS, CONFIG_FLAGS_USAGE, configFromArgs } from "../config/from-args.js";
import { expandGlob } from "../config/glob.js";
import { EXIT_CODES } from "../errors.js";
import { parse } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship explain [--config FILE | <db> <replica-url> ...] [watch flags] [--json]
  Prints the configuration \`walship watch\` would run with, per database, after defaults, the config
  file's tables and flags are combined, with where each value came from. Secrets are redacted.
  Exits 2 when the configuration is invalid (the message names the key, the file and the line).
  --json                      machine-readable output
${CONFIG_FLAGS_USAGE}`;

export const command: Command = {
  path: ["explain"],
  summary: "print the effective configuration (secrets redacted)",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(args, { ...CONFIG_FLAGS, json: { type: "boolean" } }, usage);
    const cfg = configFromArgs(values, positionals, io.env, usage);
    const matches = new Map<string, string[]>();
    for (const d of cfg.databases) if (d.glob) matches.set(d.path, await expandGlob(d.path));
    io.stdout.write(
      values.json
        ? `${JSON.stringify(explainJson(cfg, matches), null, 2)}\n`
        : `${explainText(cfg, matches)}\n`,
    );
    return EXIT_CODES.ok;
  },
};
