/**
 * Shared machinery of the interop suite: an application database driven through scripted steps (the
 * "shapes"), one of the two tools replicating it (walship watch, or the real Litestream binary), and
 * checks that read the replica back with both tools and compare page for page.
 *
 * Every assertion message starts with a label "<writer> -> <reader>, <backend>, <shape>[, <point>]" so a
 * failure says which tool, backend and shape broke.
 */
import assert from "node:assert/strict";
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { type Backend, fileBackend, s3Backend } from "../helpers/backends.js";
import { runCli, startCli } from "../helpers/cli.js";
import {
  litestreamRestore,
  type PeerProcess,
  type Peers,
  type ReplicaTarget,
  replicaTarget,
  startReplicate,
  v5Config,
  waitForReplicaTXID,
} from "../helpers/litestream.js";

export type Tool = "walship" | "litestream";

// ---- the application ---------------------------------------------------------------------------------------

/** The app's own connection, kept open for the whole case as a real app would. */
export class App {
  readonly db: Database.Database;
  constructor(
    readonly path: string,
    readonly pageSize: number,
  ) {
    this.db = new Database(path);
    this.db.pragma(`page_size = ${pageSize}`);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 10000");
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL, at INTEGER NOT NULL)",
    );
    const got = this.db.pragma("page_size", { simple: true });
    if (got !== pageSize) throw new Error(`page_size is ${String(got)}, wanted ${pageSize}`);
  }

  insert(n: number, size: number): void {
    const ins = this.db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(?), ?)");
    this.db.transaction(() => {
      for (let i = 0; i < n; i++) ins.run(size, Date.now());
    })();
  }

  /** Rewrites every k-th row with a new blob of `size` bytes. */
  update(k: number, size: number): void {
    this.db.prepare("UPDATE rows SET body = randomblob(?), at = ? WHERE id % ? = 0").run(size, Date.now(), k);
  }

  deleteAllBut(k: number): void {
    this.db.prepare("DELETE FROM rows WHERE id % ? != 0").run(k);
  }

  vacuum(): void {
    this.db.exec("VACUUM");
  }

  /** The app forces a TRUNCATE checkpoint, on a second connection that does not wait for readers. */
  checkpointTruncate(): void {
    const c = new Database(this.path);
    try {
      c.pragma("busy_timeout = 100");
      c.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      c.close();
    }
  }

  /** After the replicating tool stopped: checkpoint everything so the file is the whole database. */
  settle(): void {
    const r = this.db.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number }>;
    if (r[0]?.busy !== 0) throw new Error("source checkpoint was busy: is a replicating tool still running?");
  }

  rowCount(): number {
    return (this.db.prepare("SELECT count(*) n FROM rows").get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}

export interface Shape {
  name: string;
  pageSize: number;
  /** Each step commits something; the harness waits for the replica to advance after each. */
  steps: Array<(app: App) => void>;
}

function grow(pageSize: number): Shape {
  const big = Math.max(2000, Math.min(pageSize * 2, 70_000));
  return {
    name: `grows, page size ${pageSize}`,
    pageSize,
    steps: [
      (a) => a.insert(100, 300),
      (a) => a.insert(pageSize >= 65536 ? 40 : 300, big),
      (a) => a.update(3, 500),
      (a) => a.insert(pageSize >= 65536 ? 60 : 400, big),
    ],
  };
}

export const SHAPES = {
  grow1024: grow(1024),
  grow4096: grow(4096),
  grow65536: grow(65536),
  shrink: {
    name: "shrinks (DELETE + VACUUM), page size 4096",
    pageSize: 4096,
    steps: [
      (a) => a.insert(1500, 2000),
      (a) => a.deleteAllBut(5),
      (a) => a.vacuum(),
      (a) => a.insert(20, 100),
    ],
  },
  truncate: {
    name: "app forces wal_checkpoint(TRUNCATE) mid-run, page size 4096",
    pageSize: 4096,
    steps: [
      (a) => a.insert(300, 1000),
      (a) => {
        a.checkpointTruncate();
        a.insert(300, 1000);
      },
      (a) => a.update(2, 1500),
      (a) => {
        a.checkpointTruncate();
        a.insert(100, 3000);
      },
    ],
  },
} satisfies Record<string, Shape>;

// ---- backends ---------------------------------------------------------------------------------------------

/** The backends of a test file: a directory, and a real S3 server (skipped outside CI when missing). */
export async function openBackends(dir: string): Promise<{
  file: Backend;
  s3: Backend | { skip: string };
  stop(): Promise<void>;
}> {
  const file = fileBackend(join(dir, "file-replicas"));
  const s3 = await s3Backend();
  return {
    file,
    s3,
    stop: async () => {
      if (!("skip" in s3)) await s3.stop();
    },
  };
}

// ---- running the tools ------------------------------------------------------------------------------------

export interface Replicating {
  tool: Tool;
  stop(): Promise<void>;
}

/** Starts a tool on (db, target) and waits until the replica holds at least one file. */
export async function startTool(
  tool: Tool,
  peers: Peers,
  db: string,
  target: ReplicaTarget,
  opts: {
    /** Litestream: the config-less `replicate <db> <url>` form (1 s intervals) instead of a fast config. */
    plain?: boolean;
    /** Litestream: more config at the top level (levels, snapshot, retention). */
    top?: Record<string, unknown>;
    /** walship: more watch flags. */
    watchArgs?: string[];
    /** How long the first upload may take (default 30 s; a 1 GiB initial snapshot needs more). */
    startTimeoutMs?: number;
    label: string;
  },
): Promise<Replicating> {
  const client = target.client();
  const before = await client.list(0).then((l) => (l.length ? l[l.length - 1]!.maxTXID : 0n));
  let stop: () => Promise<void>;
  if (tool === "walship") {
    const w = startCli(
      ["watch", db, target.walshipUrl, "--sync-interval", "100ms", ...(opts.watchArgs ?? [])],
      target.env,
    );
    stop = async () => {
      w.child.kill("SIGTERM");
      const r = await w.done;
      assert.equal(r.code, 0, `${opts.label}: walship watch exited with ${r.code}: ${r.stderr}`);
    };
    try {
      await waitForReplicaTXID(client, before, `${opts.label}: walship watch to upload`, opts.startTimeoutMs);
    } catch (e) {
      w.child.kill("SIGKILL");
      const r = await w.done;
      throw new Error(`${(e as Error).message}\nwalship log:\n${r.stderr}`);
    }
  } else {
    const p: PeerProcess = startReplicate(peers, {
      db,
      target,
      config: opts.plain ? undefined : v5Config(db, target, { fast: true, top: opts.top }),
    });
    stop = async () => {
      const r = await p.stop();
      assert.equal(r.code, 0, `${opts.label}: litestream replicate exited with ${r.code}:\n${p.log()}`);
    };
    try {
      await waitForReplicaTXID(
        client,
        before,
        `${opts.label}: litestream replicate to upload`,
        opts.startTimeoutMs,
      );
    } catch (e) {
      await p.stop(2000);
      throw new Error(`${(e as Error).message}\nlitestream log:\n${p.log()}`);
    }
  }
  await client.close();
  return { tool, stop };
}

/** Runs the steps, waiting after each for the replica to advance; returns the L0 TXIDs seen. */
export async function runSteps(
  app: App,
  steps: Shape["steps"],
  target: ReplicaTarget,
  label: string,
): Promise<void> {
  const client = target.client();
  try {
    for (const [i, step] of steps.entries()) {
      const l0 = await client.list(0);
      const before = l0.length ? l0[l0.length - 1]!.maxTXID : 0n;
      step(app);
      await waitForReplicaTXID(client, before, `${label}: replica to advance after step ${i + 1}`);
    }
  } finally {
    await client.close();
  }
}

// ---- checks -----------------------------------------------------------------------------------------------

function pageSizeOf(b: Uint8Array): number {
  const v = (b[16]! << 8) | b[17]!;
  return v === 1 ? 65536 : v || 4096;
}

/** Byte-for-byte equality, reported as the first differing page; streams, so 1 GiB+ files are fine. */
export function assertSameImage(label: string, expectedPath: string, gotPath: string): void {
  const wantSize = statSync(expectedPath).size;
  const gotSize = statSync(gotPath).size;
  const fa = openSync(expectedPath, "r");
  const fb = openSync(gotPath, "r");
  try {
    const head = Buffer.alloc(100);
    readSync(fa, head, 0, 100, 0);
    const ps = pageSizeOf(head);
    const chunk = Math.max(ps, 8 << 20);
    const a = Buffer.alloc(chunk);
    const b = Buffer.alloc(chunk);
    let first = -1;
    let differing = 0;
    for (let off = 0; off < Math.max(wantSize, gotSize); off += chunk) {
      const na = readSync(fa, a, 0, chunk, off);
      const nb = readSync(fb, b, 0, chunk, off);
      if (na === nb && a.subarray(0, na).equals(b.subarray(0, nb))) continue;
      for (let p = 0; p < Math.max(na, nb); p += ps) {
        const pa = a.subarray(p, Math.min(na, p + ps));
        const pb = b.subarray(p, Math.min(nb, p + ps));
        if (!pa.equals(pb)) {
          differing++;
          if (first < 0) first = (off + p) / ps + 1;
        }
      }
    }
    if (differing === 0 && wantSize === gotSize) return;
    assert.fail(
      `${label}: restored database differs from the expected one: ${wantSize} vs ${gotSize} bytes, ` +
        `${differing} of ${Math.ceil(Math.max(wantSize, gotSize) / ps)} pages differ, first page ${first} (page size ${ps})`,
    );
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

export function assertIntegrity(label: string, path: string): void {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("PRAGMA integrity_check").all() as Array<{ integrity_check: string }>;
    const msgs = rows.map((r) => r.integrity_check);
    assert.deepEqual(msgs, ["ok"], `${label}: integrity_check of ${path}`);
  } finally {
    db.close();
  }
  for (const s of ["-wal", "-shm"]) if (existsSync(path + s)) rmSync(path + s);
}

/** Restores with `reader` into `out` (removed first); fails with the tool's output on error. */
export async function restoreWith(
  reader: Tool,
  peers: Peers,
  target: ReplicaTarget,
  out: string,
  label: string,
  opts: { txid?: bigint; extra?: string[] } = {},
): Promise<void> {
  for (const s of ["", "-wal", "-shm"]) rmSync(out + s, { force: true });
  if (reader === "walship") {
    const args = ["restore", target.walshipUrl, "-o", out, ...(opts.extra ?? [])];
    if (opts.txid !== undefined) args.push("--txid", opts.txid.toString(16).padStart(16, "0"));
    const r = await runCli(args, target.env);
    assert.equal(r.code, 0, `${label}: walship restore failed (${r.code}): ${r.stderr}`);
  } else {
    const r = await litestreamRestore(peers, target, out, opts);
    assert.equal(r.code, 0, `${label}: litestream restore failed (${r.code}): ${r.stderr}${r.stdout}`);
  }
}

/** The TXIDs of level 0, thinned to at most n spread over the range. */
export async function sampleTXIDs(target: ReplicaTarget, n: number): Promise<bigint[]> {
  const client = target.client();
  try {
    const ids = (await client.list(0)).map((f) => f.maxTXID);
    if (ids.length <= n) return ids;
    const out = new Set<bigint>();
    for (let i = 0; i < n; i++) out.add(ids[Math.round((i * (ids.length - 1)) / (n - 1))]!);
    return [...out];
  } finally {
    await client.close();
  }
}

/**
 * Reads the replica back with both tools: the latest state must equal the (checkpointed) source page for
 * page and pass integrity_check; at each sampled TXID both tools must produce the same file.
 */
export async function checkBothReaders(
  peers: Peers,
  target: ReplicaTarget,
  app: App,
  dir: string,
  label: string,
  opts: { txids?: bigint[]; timestamps?: number[] } = {},
): Promise<void> {
  app.settle();
  for (const reader of ["walship", "litestream"] as const) {
    const l = `${label} -> ${reader} restore (latest)`;
    const out = join(dir, `latest-${reader}.db`);
    await restoreWith(reader, peers, target, out, l);
    assertSameImage(l, app.path, out);
    assertIntegrity(l, out);
  }
  for (const txid of opts.txids ?? []) {
    const at = `TXID ${txid.toString(16).padStart(16, "0")}`;
    const w = join(dir, `txid-walship.db`);
    const ls = join(dir, `txid-litestream.db`);
    await restoreWith("walship", peers, target, w, `${label} -> walship restore --txid (${at})`, { txid });
    await restoreWith("litestream", peers, target, ls, `${label} -> litestream restore -txid (${at})`, {
      txid,
    });
    assertSameImage(`${label}: walship and litestream restores at ${at}`, ls, w);
    assertIntegrity(`${label} -> walship restore --txid (${at})`, w);
  }
  for (const ts of opts.timestamps ?? []) {
    const at = new Date(ts).toISOString();
    const w = join(dir, `ts-walship.db`);
    const ls = join(dir, `ts-litestream.db`);
    await restoreWith("walship", peers, target, w, `${label} -> walship restore --timestamp ${at}`, {
      extra: ["--timestamp", at],
    });
    await restoreWith("litestream", peers, target, ls, `${label} -> litestream restore -timestamp ${at}`, {
      extra: ["-timestamp", at],
    });
    assertSameImage(`${label}: walship and litestream restores at time ${at}`, ls, w);
    assertIntegrity(`${label} -> walship restore --timestamp ${at}`, w);
  }
}

/**
 * A restore time for --timestamp / -timestamp: 1 ms after some level-0 file was created (by its timestamp
 * metadata), so that file is in and the next one out. Litestream also requires the time to lie within the
 * replica's LIST LastModified range, which S3 gives in whole seconds: so a later file must have been
 * created in a later second (replicateShape pauses a second mid-run to make sure of that).
 */
export async function pointInTime(target: ReplicaTarget): Promise<number[]> {
  const client = target.client();
  try {
    const l0 = await client.list(0, { exactTimestamps: true });
    const newestSecond = Math.floor((l0.at(-1)?.createdAt ?? 0) / 1000) * 1000;
    for (let i = l0.length - 2; i >= 1; i--) {
      const ts = l0[i]!.createdAt + 1;
      if (l0[i + 1]!.createdAt > ts && ts <= newestSecond) return [ts];
    }
    return [];
  } finally {
    await client.close();
  }
}

/** One full case: a tool replicates the shape, then both tools read it back. */
export async function replicateShape(
  writer: Tool,
  peers: Peers,
  b: Backend,
  shape: Shape,
  dir: string,
  opts: { plain?: boolean; txids?: number } = {},
): Promise<void> {
  const name = shape.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
  const target = replicaTarget(b, `${writer}-${name}${opts.plain ? "-plain" : ""}`);
  const label = `${writer} wrote, ${b.name}, ${shape.name}${opts.plain ? ", config-less CLI form" : ""}`;
  const caseDir = join(dir, `${writer}-${b.name}-${name}`);
  mkdirSync(caseDir, { recursive: true });
  const app = new App(join(caseDir, "app.db"), shape.pageSize);
  try {
    app.insert(10, 100);
    const tool = await startTool(writer, peers, app.path, target, { plain: opts.plain, label });
    try {
      await runSteps(app, shape.steps.slice(0, 2), target, label);
      await new Promise((r) => setTimeout(r, 1100)); // see pointInTime
      await runSteps(app, shape.steps.slice(2), target, label);
    } finally {
      await tool.stop();
    }
    const txids = await sampleTXIDs(target, opts.txids ?? 3);
    const timestamps = await pointInTime(target);
    assert.ok(timestamps.length > 0, `${label}: no usable restore time in the replica`);
    await checkBothReaders(peers, target, app, caseDir, label, { txids, timestamps });
  } finally {
    app.close();
  }
}
