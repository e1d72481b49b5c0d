/** docs/exit-codes.md and src/errors.ts must say the same thing. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type ErrorCode, EXIT_CODES, exitCodeFor, WalshipError } from "../../src/errors.js";
import { repoRoot } from "../helpers/cli.js";

const NAMES: Record<string, keyof typeof EXIT_CODES> = {
  ok: "ok",
  general: "general",
  usage: "usage",
  database: "database",
  "storage auth": "storageAuth",
  "storage connection": "storageConnection",
  "not found": "notFound",
  corruption: "corruption",
  interrupted: "interrupted",
};

test("docs/exit-codes.md lists every exit code and the error codes mapped to it", () => {
  const md = readFileSync(join(repoRoot, "docs", "exit-codes.md"), "utf8");
  const rows = md
    .split("\n")
    .filter((l) => /^\|\s*\d+\s*\|/.test(l))
    .map((l) => l.split("|").map((c) => c.trim()));
  const documented = new Map<number, string>();
  for (const cells of rows) {
    const code = Number(cells[1]);
    const name = NAMES[cells[2]!];
    assert.ok(name, `unknown name "${cells[2]}"`);
    assert.equal(EXIT_CODES[name], code, `${cells[2]} is ${EXIT_CODES[name]} in src/errors.ts`);
    documented.set(code, cells[2]!);
    for (const m of (cells[4] ?? "").matchAll(/`([a-z_0-9]+)`/g)) {
      const ec = m[1] as ErrorCode;
      assert.equal(exitCodeFor(new WalshipError(ec, "x")), code, `error code ${ec} documented under ${code}`);
    }
  }
  assert.deepEqual(
    [...documented.keys()].sort((a, b) => a - b),
    Object.values(EXIT_CODES).sort((a, b) => a - b),
  );
  assert.equal(exitCodeFor(new Error("plain")), EXIT_CODES.general);
});
