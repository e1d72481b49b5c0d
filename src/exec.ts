/**
 * --exec: walship runs the app as its child. The command line is split like a shell would split words
 * (quotes and backslashes, no expansion), and run without a shell so signals reach the app itself, not
 * an intermediate sh. SIGINT/SIGTERM/SIGHUP sent to walship are forwarded; walship waits for the child,
 * then flushes replication and exits with the child's status (128 + signal number when it was killed).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import { WalshipError } from "./errors.js";
import type { Logger } from "./log.js";

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Splits a command line into words: "a 'b c' d\"e\"" -> [a, b c, de]. */
export function splitCommand(cmd: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < cmd.length && '"\\$`'.includes(cmd[i + 1]!)) cur += cmd[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < cmd.length) {
      cur += cmd[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) {
    throw new WalshipError("usage", `--exec: unterminated ${quote} quote in ${JSON.stringify(cmd)}`, {
      op: "exec",
    });
  }
  if (inWord) words.push(cur);
  if (words.length === 0) throw new WalshipError("usage", "--exec: empty command", { op: "exec" });
  return words;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What walship exits with: the child's code, or 128 + the signal's number. */
  exitCode: number;
}

export interface RunningChild {
  pid: number | undefined;
  exited: Promise<ChildExit>;
  /** Sends a signal to the child (e.g. on a fatal replication error). */
  kill(signal: NodeJS.Signals): void;
}

export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}

/** Starts the child with walship's stdio and environment and forwards signals until it exits. */
export function startChild(
  cmd: string,
  env: NodeJS.ProcessEnv,
  opts: { onSignal?: (s: NodeJS.Signals) => void; log?: Logger } = {},
): RunningChild {
  const [file, ...args] = splitCommand(cmd);
  let child: ChildProcess;
  try {
    child = spawn(file!, args, { env, stdio: "inherit" });
  } catch (e) {
    throw new WalshipError("usage", `--exec: cannot start ${file}: ${(e as Error).message}`, {
      op: "exec",
      cause: e,
    });
  }
  const forward = (s: NodeJS.Signals) => {
    opts.onSignal?.(s);
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
  };
  for (const s of FORWARDED) process.on(s, forward);
  const exited = new Promise<ChildExit>((resolve) => {
    let settled = false;
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      for (const s of FORWARDED) process.off(s, forward);
      resolve({ code, signal, exitCode: exitCodeOf(code, signal) });
    };
    child.once("error", (e: NodeJS.ErrnoException) => {
      // spawn failures (ENOENT, EACCES) arrive here, not as a throw.
      opts.log?.("error", `--exec: cannot run ${file}: ${e.code ?? e.message}`);
      done(e.code === "ENOENT" ? 127 : 126, null);
    });
    child.once("exit", done);
  });
  return { pid: child.pid, exited, kill: (s) => forward(s) };
}
