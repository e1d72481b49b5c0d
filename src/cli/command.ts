/** One CLI command per file; each exports a Command that the dispatcher (main.ts) routes to. */

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Environment variables (process.env in production; a copy in tests). */
  env: NodeJS.ProcessEnv;
  /** Fires on SIGINT/SIGTERM. */
  signal: AbortSignal;
  isTTY: boolean;
}

export interface Command {
  /** Words that select the command, e.g. ["ltx", "inspect"]. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  /** Returns the process exit code; throws WalshipError for failures (mapped by exitCodeFor). */
  run(args: string[], io: CliIO): Promise<number>;
}
