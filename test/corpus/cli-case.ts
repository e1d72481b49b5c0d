/**
 * One corpus case run through the CLI: the exit code, the single error line (naming the thing, with a
 * hint saying what to do), and the files that must come out unchanged (database, -wal, replica).
 */
import assert from "node:assert/strict";
import { errorLine, hashTree, type RunOptions, runCli } from "./fixture.js";

export interface CliCase {
  name: string;
  /** Builds the inputs in `dir`; returns the command and what must not change. */
  setup(dir: string): Promise<CaseRun> | CaseRun;
  code: number;
  /** Patterns the error line must match: the thing named, and the fix. */
  says: RegExp[];
  /** The message itself states the fix (matched by `says`), so no separate "(hint: ...)" is needed. */
  fixInMessage?: boolean;
  /** Set when the case cannot run here (printed as the skip reason). */
  skip?: () => string | false;
}

export interface CaseRun extends RunOptions {
  args: string[];
  /** Files and directories whose every byte must be the same afterwards. */
  unchanged: string[];
  /** Paths that must not exist afterwards (a restore output). */
  absent?: string[];
  cleanup?: () => void;
}

export async function runCase(c: CliCase, dir: string): Promise<void> {
  const run = await c.setup(dir);
  try {
    const before = hashTree(...run.unchanged);
    const r = await runCli(run.args, run);
    const line = errorLine(r);
    assert.equal(r.signal, null, `the command ended by itself: ${r.stderr}`);
    assert.equal(r.code, c.code, `exit code; stderr: ${r.stderr}`);
    assert.equal(
      r.stderr.split("\n").filter((l) => l.startsWith("walship ")).length,
      1,
      `one error line: ${r.stderr}`,
    );
    for (const re of c.says) assert.match(line, re);
    if (!c.fixInMessage) assert.match(line, /\(hint: .+\)$/, `says what to do: ${line}`);
    assert.deepEqual(hashTree(...run.unchanged), before, "inputs unchanged");
    for (const p of run.absent ?? [])
      assert.equal((await import("node:fs")).existsSync(p), false, `${p} absent`);
  } finally {
    run.cleanup?.();
  }
}
