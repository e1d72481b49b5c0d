/**
 * Shared pieces of the race tests: the app process (app.ts), walship in-process with thresholds small
 * enough that its own checkpoints interleave with the app's, and the final verdict: the latest restore
 * equals the source and every TXID walship acknowledged restores to a clean state (test/chaos/model.ts).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { FileReplicaClient } from "../../src/replica/file.js";
import { type ReplicaEvent, Replicator } from "../../src/replicator.js";
import { restore } from "../../src/restore/restore.js";
import { checkState, SCHEMA } from "../chaos/model.js";
import { repoRoot } from "../helpers/cli.js";
import { contentHash } from "../helpers/db.js";

const APP = join(repoRoot, "test", "races", "app.ts");

export interface App {
  /** Sends one command and resolves with its answer ("ok ..." or "err ..."). */
  send(cmd: string): Promise<string>;
  /** send() that fails the test on "err". */
  ok(cmd: string): Promise<string>;
  exit(): Promise<void>;
  kill(): Promise<void>;
}

export function startApp(db: string, checkpointBusyMs = 5_000): App {
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", APP, db, String(checkpointBusyMs)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const waiting: Array<(l: string) => void> = [];
  createInterface({ input: proc.stdout! }).on("line", (l) => waiting.shift()?.(l));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const send = (cmd: string) =>
    new Promise<string>((resolve) => {
      waiting.push(resolve);
      proc.stdin!.write(`${cmd}\n`);
    });
  return {
    send,
    async ok(cmd) {
      const r = await send(cmd);
      assert.ok(r.startsWith("ok"), `app: ${cmd}: ${r}`);
      return r;
    },
    async exit() {
      proc.stdin!.end();
      await exited;
    },
    async kill() {
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** A WAL database with the model's schema, in its own directory. */
export function newDb(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, "app.db");
  const d = new Database(p);
  d.pragma("journal_mode = WAL");
  d.exec(SCHEMA);
  d.close();
  return p;
}

export interface Walship {
  rep: Replicator;
  events: ReplicaEvent[];
  /** TXIDs returned by sync(). */
  acked: bigint[];
  sync(): Promise<bigint>;
}

export async function startWalship(db: string, replica: string): Promise<Walship> {
  const events: ReplicaEvent[] = [];
  const rep = new Replicator({
    db,
    replica: new FileReplicaClient(replica),
    syncIntervalMs: 50,
    minCheckpointPages: 20,
    checkpointIntervalMs: 200,
    snapshotIntervalMs: 0,
    busyTimeoutMs: 2_000,
    onEvent: (e) => events.push(e),
  });
  await rep.start();
  const w: Walship = {
    rep,
    events,
    acked: [],
    async sync() {
      const t = await rep.sync({ timeoutMs: 20_000 });
      w.acked.push(t);
      return t;
    },
  };
  return w;
}

/**
 * The verdict: the latest restore has the source's content (and its m), and every acknowledged TXID
 * restores to a clean state. `monotonic` adds that m never decreases with the TXID (false for cases
 * where the database legitimately went back in time, like a replacement by an older restore).
 */
export async function assertReplicaCorrect(
  db: string,
  replica: string,
  acked: bigint[],
  work: string,
  monotonic = true,
): Promise<void> {
  const client = new FileReplicaClient(replica);
  const latest = join(work, "latest.db");
  await restore(client, { output: latest, force: true });
  const src = new Database(db, { readonly: true });
  const want = contentHash(src);
  src.close();
  const rdb = new Database(latest, { readonly: true });
  const got = contentHash(rdb);
  rdb.close();
  assert.equal(checkState(latest), checkState(db), "latest restore: same transactions as the source");
  assert.equal(got, want, "latest restore: same content as the source");
  let prev = -1;
  for (const t of [...new Set(acked)].sort((a, b) => (a < b ? -1 : 1))) {
    const out = join(work, `at-${t}.db`);
    await restore(client, { output: out, txid: t, force: true });
    const m = checkState(out);
    if (monotonic) assert.ok(m >= prev, `TXID ${t}: ${m} transactions, fewer than an earlier TXID's ${prev}`);
    prev = m;
  }
}
