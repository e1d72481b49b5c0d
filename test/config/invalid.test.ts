/**
 * Invalid walship.toml files: each must fail with a "config" error whose message starts with
 * `<file>:<line>:` and names the offending key, so a user can go straight to it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/load.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { WalshipError } from "../../src/errors.js";

const DB = `[[databases]]\npath = "/data/app.db"\nreplica = "/backups/app"\n`;

interface Case {
  name: string;
  toml: string;
  key: string;
  line: number;
  /** Extra text the message or hint must contain. */
  says?: string;
}

const cases: Case[] = [
  {
    name: "unknown table",
    toml: `${DB}\n[metric]\naddr = ":1"\n`,
    key: "metric",
    line: 5,
    says: 'did you mean "metrics"',
  },
  {
    name: "misspelt key in [sync]",
    toml: `[sync]\nintervall = "1s"\n${DB}`,
    key: "intervall",
    line: 2,
    says: 'did you mean "interval"',
  },
  {
    name: "duration that is not one",
    toml: `[sync]\ninterval = "fast"\n${DB}`,
    key: "interval",
    line: 2,
    says: "not a duration",
  },
  {
    name: "duration without unit",
    toml: `[sync]\n\ninterval = 5\n${DB}`,
    key: "interval",
    line: 3,
    says: "no unit",
  },
  {
    name: "bad value in the second [[databases]]",
    toml: `${DB}\n${DB.replace("app", "other").replace("app", "other")}sync-interval = "soon"\n`,
    key: "sync-interval",
    line: 8,
    says: "[[databases]] #2",
  },
  {
    name: "checkpoint pages zero",
    toml: `${DB}[checkpoint]\npages = 0\n`,
    key: "pages",
    line: 5,
    says: "out of range",
  },
  {
    name: "truncate-pages not a number",
    toml: `${DB}[checkpoint]\ntruncate-pages = "lots"\n`,
    key: "truncate-pages",
    line: 5,
  },
  {
    name: "metrics addr without port",
    toml: `${DB}\n[metrics]\naddr = "localhost"\n`,
    key: "addr",
    line: 6,
    says: "host:port",
  },
  {
    name: "metrics port out of range",
    toml: `${DB}\n[metrics]\naddr = "127.0.0.1:70000"\n`,
    key: "addr",
    line: 6,
  },
  {
    name: "metrics enabled not a boolean",
    toml: `${DB}\n[metrics]\nenabled = "yes"\n`,
    key: "enabled",
    line: 6,
    says: "true or false",
  },
  {
    name: "webhook URL not http",
    toml: `${DB}[webhooks]\nurls = ["ftp://example.com/x"]\n`,
    key: "urls",
    line: 5,
    says: "entry 1",
  },
  {
    name: "unknown webhook event",
    toml: `${DB}[webhooks]\nurls = ["http://127.0.0.1:1/"]\nevents = ["sync_failed", "explode"]\n`,
    key: "events",
    line: 6,
    says: "entry 2",
  },
  {
    name: "log level",
    toml: `[log]\nlevel = "verbose"\n${DB}`,
    key: "level",
    line: 2,
    says: "debug, info, warn, error",
  },
  {
    name: "database without replica",
    toml: `[sync]\ninterval = "1s"\n\n[[databases]]\npath = "/x.db"\n`,
    key: "replica",
    line: 4,
  },
  {
    name: "same database twice",
    toml: `${DB}\n[[databases]]\n# again\npath = "/data/app.db"\nreplica = "/elsewhere"\n`,
    key: "path",
    line: 7,
    says: "already listed",
  },
  {
    name: "unsupported replica scheme",
    toml: `[[databases]]\npath = "/data/app.db"\nreplica = "gs://bucket/app"\n`,
    key: "replica",
    line: 3,
    says: "gs:",
  },
  {
    name: "unset environment variable",
    toml: `${DB}\n[s3]\nsecret-access-key = "\${WALSHIP_TEST_UNSET_SECRET}"\n`,
    key: "secret-access-key",
    line: 6,
    says: "WALSHIP_TEST_UNSET_SECRET is not set",
  },
  {
    name: "compaction levels not increasing",
    toml: `${DB}[compaction]\nlevels = [\n  "5m",\n  "30s",\n]\n`,
    key: "levels",
    line: 5,
    says: "entry 2",
  },
  {
    name: "unknown key in [databases.retention]",
    toml: `${DB}[databases.retention]\nenable = false\n`,
    key: "enable",
    line: 5,
    says: "[databases.retention] of [[databases]] #1",
  },
  {
    name: "too many compaction levels for one database",
    toml: `${DB}[databases.compaction]\nlevels = ["1s","2s","3s","4s","5s","6s","7s","8s","9s"]\n`,
    key: "levels",
    line: 5,
    says: "at most 8",
  },
  { name: "Litestream's dbs key", toml: `dbs = []\n${DB}`, key: "dbs", line: 1, says: "[[databases]]" },
  {
    name: "snake_case key",
    toml: `${DB}sync_interval = "1s"\n`,
    key: "sync_interval",
    line: 4,
    says: "kebab-case",
  },
  {
    name: "truncate threshold below checkpoint threshold",
    toml: `${DB}checkpoint-pages = 5000\n\n[checkpoint]\ntruncate-pages = 4000\n`,
    key: "truncate-pages",
    line: 7,
    says: "must be above checkpoint-pages",
  },
  {
    name: "Litestream's snapshot retention",
    toml: `${DB}[snapshot]\ninterval = "1h"\nretention = "24h"\n`,
    key: "retention",
    line: 6,
    says: "[retention] window",
  },
  { name: "negative snapshot slots", toml: `${DB}[retention]\nhourly = -1\n`, key: "hourly", line: 5 },
  { name: "retention l0 as boolean", toml: `${DB}[retention]\nl0 = true\n`, key: "l0", line: 5 },
  {
    name: "no databases",
    toml: `[sync]\ninterval = "1s"\n`,
    key: "databases",
    line: 1,
    says: "no [[databases]]",
  },
  { name: "databases not a table array", toml: `databases = "x"\n`, key: "databases", line: 1 },
  {
    name: "force-path-style not boolean",
    toml: `${DB}[s3]\nforce-path-style = "maybe"\n`,
    key: "force-path-style",
    line: 5,
  },
  {
    name: "webhook attempts zero",
    toml: `${DB}[webhooks]\nmax-attempts = 0\n`,
    key: "max-attempts",
    line: 5,
  },
  { name: "TOML syntax error", toml: `${DB}[sync\ninterval = "1s"\n`, key: "TOML syntax", line: 4 },
  {
    name: "key after a multi-line array and a string that looks like a key",
    toml: `exec = "x = y"\n[compaction]\nlevels = [\n  "30s",\n]\n[sync]\nbusy-timeout = "-1s"\n${DB}`,
    key: "busy-timeout",
    line: 7,
  },
];

for (const c of cases) {
  test(`invalid config: ${c.name}`, () => {
    const env = {};
    let err: unknown;
    try {
      resolveConfig(parseConfig(c.toml, "walship.toml", { env }), {}, [], env);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof WalshipError, `expected a WalshipError, got ${String(err)}`);
    assert.equal(err.code, "config");
    const full = `${err.message} ${err.hint ?? ""}`;
    assert.ok(
      err.message.startsWith(`walship.toml:${c.line}:`),
      `line ${c.line} expected in: ${err.message}`,
    );
    assert.ok(err.message.includes(c.key), `key ${c.key} expected in: ${err.message}`);
    if (c.says) assert.ok(full.includes(c.says), `"${c.says}" expected in: ${full}`);
  });
}

test("at least 15 invalid files are covered", () => {
  assert.ok(cases.length >= 15);
});
