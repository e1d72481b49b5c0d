/** Builds small real replicas (a written database, replicated without compaction) and runs CLI commands in-process. */

import { join } from "node:path";
import { Writable } from "node:stream";
import type { Command } from "../../src/cli/command.js";
import { exitCodeFor } from "../../src/errors.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { createWalDb, tempDir } from "../helpers/db.js";

export interface BuiltReplica {
  dir: string;
  root: string;
  client: FileReplicaClient;
  txid: bigint;
}

/** `batches` transactions, one capture and upload each, after the initial snapshot. */
export async function buildReplica(
  batches: number,
  opts: { pageSize?: number; dir?: string; rowsPerBatch?: number } = {},
): Promise<BuiltReplica> {
  const dir = opts.dir ?? tempDir("walship-verify-");
  const dbPath = join(dir, `app-${opts.pageSize ?? 4096}.db`);
  const root = join(dir, `replica-${opts.pageSize ?? 4096}`);
  const db = createWalDb(dbPath, opts.pageSize ?? 4096);
  // A loaded machine can stall the replicator's checkpoint fsync past SQLite's 5 s default.
  db.pragma("busy_timeout = 60000");
  const client = new FileReplicaClient(root);
  let now = 1_700_000_000_000;
  const rep = new Replicator({
    db: dbPath,
    replica: client,
    clock: { now: () => now, sleep: async () => {} },
    syncIntervalMs: 3_600_000,
    snapshotIntervalMs: 0,
    // No checkpoint from a WAL-change tick: it would hold the write lock across an await while the next
    // synchronous insert busy-waits on the same event loop (see test/compaction/sim.ts).
    checkpointIntervalMs: 0,
    minCheckpointPages: 1_000_000_000,
    truncatePages: -1,
  });
  await rep.start();
  const ins = db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(?), ?)");
  for (let i = 0; i < batches; i++) {
    db.transaction(() => {
      for (let j = 0; j < (opts.rowsPerBatch ?? 5); j++) ins.run(500 + (j % 5) * 100, i);
    })();
    now += 1000;
    await rep.captureNow();
    await rep.sync();
  }
  const txid = rep.txid;
  await rep.close({ deadlineMs: 5000 });
  db.close();
  return { dir, root, client, txid };
}

export interface CommandResult {
  code: number;
  stdout: string;
  error: unknown;
}

/** Runs a CLI command as main.ts would, mapping a thrown error to its exit code. */
export async function runCommand(
  cmd: Command,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CommandResult> {
  let stdout = "";
  const sink = (onData: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        onData(String(chunk));
        cb();
      },
    });
  const io = {
    stdout: sink((s) => {
      stdout += s;
    }),
    stderr: sink(() => {}),
    env: { ...process.env, ...env },
    signal: new AbortController().signal,
    isTTY: false,
  };
  try {
    return { code: await cmd.run(args, io), stdout, error: null };
  } catch (e) {
    return { code: exitCodeFor(e), stdout, error: e };
  }
}
