/**
 * Corpus: configuration errors seen through `walship watch --config` (test/config covers the parser case
 * by case; this is the user's view): exit 2, one line naming the file, line and key, with the fix, and the
 * database named in the file is left alone.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { type CliCase, runCase } from "./cli-case.js";

const dir = tempDir("walship-corpus-config-");
after(() => rmSync(dir, { recursive: true, force: true }));

function configCase(name: string, toml: (db: string, rep: string) => string, says: RegExp[]): CliCase {
  return {
    name,
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      const db = join(d, "app.db");
      createWalDb(db).close();
      const file = join(d, "walship.toml");
      writeFileSync(file, toml(db, join(d, "replica")));
      return { args: ["watch", "--config", file, "--no-metrics"], unchanged: [db, join(d, "replica")] };
    },
    code: EXIT_CODES.usage,
    says,
  };
}

const db = (p: string, r: string) => `[[databases]]\npath = "${p}"\nreplica = "${r}"\n`;

const cases: CliCase[] = [
  configCase("misspelt key", (p, r) => `[sync]\nintervall = "1s"\n${db(p, r)}`, [
    /walship\.toml:2: unknown key "intervall" in \[sync\]/,
    /did you mean "interval"/,
  ]),
  configCase("duration that is not one", (p, r) => `[sync]\ninterval = "fast"\n${db(p, r)}`, [
    /walship\.toml:2: key "interval" in \[sync\]: "fast" is not a duration/,
    /"1m30s"/,
  ]),
  configCase("TOML syntax error", () => `[[databases]\npath = 1\n`, [
    /walship\.toml:1:\d+: TOML syntax error/,
    /toml\.io/,
  ]),
  configCase("no databases", () => `# nothing yet\n`, [
    /no \[\[databases\]\] entries/,
    /add at least one \[\[databases\]\]/,
  ]),
  configCase("replica with an unsupported scheme", (p) => db(p, "gs://bucket/db"), [
    /walship\.toml:3: key "replica" .* unsupported replica URL scheme "gs:"/,
    /s3:\/\/bucket\/path/,
  ]),
  {
    name: "config file missing",
    setup: (d) => ({ args: ["watch", "--config", join(d, "nothere.toml"), "--no-metrics"], unchanged: [] }),
    code: EXIT_CODES.usage,
    says: [/cannot read config file .*nothere\.toml/, /check the --config path/],
  },
];

describe("corpus: configuration errors", () => {
  cases.forEach((c, i) => {
    it(c.name, () => runCase(c, join(dir, `case-${i}`)));
  });
});
