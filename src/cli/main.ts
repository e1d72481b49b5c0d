#!/usr/bin/env node
/** The `walship` command: routes to one command per file and maps errors to documented exit codes. */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EXIT_CODES, exitCodeFor, WalshipError } from "../errors.js";
import type { CliIO, Command } from "./command.js";

const loaders: Array<() => Promise<{ command: Command }>> = [
  () => import("./watch.js"),
  () => import("./explain.js"),
  () => import("./restore.js"),
  () => import("./replicate.js"),
  () => import("./snapshot.js"),
  () => import("./ltx-list.js"),
  () => import("./ltx-inspect.js"),
  () => import("./ltx-verify.js"),
  () => import("./compact.js"),
  () => import("./verify.js"),
  () => import("./status.js"),
  () => import("./version.js"),
];

async function loadCommands(): Promise<Command[]> {
  return (await Promise.all(loaders.map((l) => l()))).map((m) => m.command);
}

function help(cmds: Command[]): string {
  const lines = ["walship: continuous replication of SQLite databases to S3 or a directory", "", "Commands:"];
  for (const c of cmds) lines.push(`  walship ${c.path.join(" ").padEnd(14)} ${c.summary}`);
  lines.push("", "Run `walship <command> --help` for a command's flags.");
  return lines.join("\n");
}

/** Picks the command whose path matches the most leading words (e.g. "ltx inspect" before "ltx"). */
export function route(cmds: Command[], argv: string[]): { cmd: Command; args: string[] } | null {
  let best: { cmd: Command; args: string[] } | null = null;
  for (const c of cmds) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.cmd.path.length)) {
      best = { cmd: c, args: argv.slice(c.path.length) };
    }
  }
  return best;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const cmds = await loadCommands();
  if (argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
    io.stdout.write(`${help(cmds)}\n`);
    return argv.length === 0 ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  const r = route(cmds, argv);
  if (!r) {
    io.stderr.write(`walship: unknown command "${argv[0]}"\n${help(cmds)}\n`);
    return EXIT_CODES.usage;
  }
  if (r.args.includes("--help") || r.args.includes("-h")) {
    io.stdout.write(`${r.cmd.usage}\n`);
    return EXIT_CODES.ok;
  }
  try {
    return await r.cmd.run(r.args, io);
  } catch (e) {
    const line = e instanceof WalshipError ? e.oneLine() : e instanceof Error ? e.message : String(e);
    io.stderr.write(`walship ${r.cmd.path.join(" ")}: ${line}\n`);
    if (!(e instanceof WalshipError) && io.env.WALSHIP_DEBUG) io.stderr.write(`${(e as Error).stack}\n`);
    return exitCodeFor(e);
  }
}

function processIO(): CliIO {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // A second signal means "stop now": skip the drain.
      process.stderr.write(`walship: second ${sig}, exiting without draining\n`);
      process.exit(EXIT_CODES.interrupted);
    }
    ac.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: ac.signal,
    isTTY: Boolean(process.stderr.isTTY),
  };
}

function invokedDirectly(): boolean {
  try {
    return realpathSync(process.argv[1] ?? "") === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2), processIO()).then(
    (code) => {
      process.exitCode = code;
      // Leftover keep-alive sockets or watchers must not keep a finished command alive.
      setTimeout(() => process.exit(code), 50).unref();
    },
    (e) => {
      process.stderr.write(`walship: ${(e as Error).stack ?? e}\n`);
      process.exit(EXIT_CODES.general);
    },
  );
}
