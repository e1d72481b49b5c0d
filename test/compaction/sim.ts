/**
 * A simulated deployment for compaction tests: a real SQLite database written by the test, a Replicator
 * and a Maintainer sharing one injected clock, and a file replica. Time only moves when the test says so,
 * so hours of operation run in seconds. The content hash after every batch is recorded by TXID.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import {
  Maintainer,
  type MaintainerOptions,
  type MaintenanceReport,
} from "../../src/compaction/maintainer.js";
import { formatLtxFilename } from "../../src/ltx/filename.js";
import type { ReplicaClient } from "../../src/replica/client.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { contentHash, createWalDb, tempDir } from "../helpers/db.js";
import { makeRandom } from "../helpers/random.js";

/** Frames that would trigger an automatic checkpoint: never, in these tests. */
export const NO_AUTO_CHECKPOINT = 1_000_000_000;

/** 2023-11-14T22:13:20Z: a fixed start keeps wall-clock boundaries reproducible. */
export const SIM_START = 1_700_000_000_000;

export interface SimOptions {
  seed: number;
  maintainer?: Partial<Omit<MaintainerOptions, "clock">>;
  /** Pass the uploader's events to the maintainer as hints (default true). */
  hints?: boolean;
  /** Wraps the maintainer's client (fault injection). */
  wrap?: (c: ReplicaClient) => ReplicaClient;
  /** The replicator's and the maintainer's clients (default: two FileReplicaClients on one directory). */
  clients?: { replica: ReplicaClient; maint: ReplicaClient };
  pageSize?: number;
  /** Simulated start time (default SIM_START). */
  start?: number;
}

export interface State {
  hash: string;
  at: number;
}

export class Sim {
  now = SIM_START;
  readonly clock = { now: () => this.now, sleep: async () => {} };
  readonly rnd: () => number;
  readonly dir = tempDir("walship-compaction-");
  readonly dbPath = join(this.dir, "app.db");
  readonly metaDir = join(this.dir, "meta");
  readonly replicaRoot = join(this.dir, "replica");
  readonly db: Database.Database;
  /** The replicator's client. */
  readonly client: ReplicaClient;
  /** The maintainer's own client, so its requests are counted apart. */
  readonly maintClient: ReplicaClient;
  readonly states = new Map<bigint, State>();
  readonly rep: Replicator;
  maint: Maintainer;
  private readonly opts: SimOptions;
  private nextId = 0;

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.rnd = makeRandom(opts.seed);
    this.now = opts.start ?? SIM_START;
    this.client = opts.clients?.replica ?? new FileReplicaClient(this.replicaRoot);
    this.maintClient = opts.clients?.maint ?? new FileReplicaClient(this.replicaRoot);
    mkdirSync(this.replicaRoot, { recursive: true });
    this.db = createWalDb(this.dbPath, opts.pageSize ?? 4096);
    // A loaded machine can stall the replicator's checkpoint fsync past SQLite's 5 s default.
    this.db.pragma("busy_timeout = 60000");
    this.rep = new Replicator({
      db: this.dbPath,
      replica: this.client,
      metaDir: this.metaDir,
      clock: this.clock,
      // Real timers must not drive anything: the test captures, syncs and snapshots explicitly.
      syncIntervalMs: 3_600_000,
      snapshotIntervalMs: 0,
      // Checkpoints only when the test asks (awaited): a checkpoint started by a WAL-change tick holds
      // SQLite's write lock across an await, and the test's synchronous write would then busy-wait on the
      // event loop the checkpoint needs to finish.
      checkpointIntervalMs: 0,
      minCheckpointPages: NO_AUTO_CHECKPOINT,
      truncatePages: -1,
      onEvent: (e) => {
        if (this.opts.hints === false) return;
        if (e.type === "uploaded") {
          this.maint.noteUploaded({ minTXID: e.minTXID, maxTXID: e.maxTXID, size: e.bytes });
        } else if (e.type === "snapshot") {
          this.maint.noteUploaded({ level: 9, minTXID: 1n, maxTXID: e.txid, size: e.bytes });
        }
      },
    });
    this.maint = this.newMaintainer();
  }

  /** A fresh Maintainer (as after a process restart): nothing cached, nothing remembered. */
  newMaintainer(extra: Partial<Omit<MaintainerOptions, "clock">> = {}): Maintainer {
    const client = this.opts.wrap ? this.opts.wrap(this.maintClient) : this.maintClient;
    this.maint = new Maintainer(client, {
      ...this.opts.maintainer,
      ...extra,
      clock: this.clock,
      localL0: (min, max) => join(this.metaDir, "ltx", "0", formatLtxFilename(min, max)),
    });
    return this.maint;
  }

  async start(): Promise<void> {
    await this.rep.start();
    await this.rep.sync();
    this.states.set(this.rep.txid, { hash: contentHash(this.db), at: this.now });
  }

  /** One application transaction (inserts, an update, trimming old rows), captured and recorded. */
  async writeBatch(): Promise<bigint> {
    const rnd = this.rnd;
    const ins = this.db.prepare("INSERT INTO rows (id, body, at) VALUES (?, randomblob(?), ?)");
    this.db.transaction(() => {
      const n = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) ins.run(++this.nextId, 100 + Math.floor(rnd() * 700), this.now);
      if (rnd() < 0.5) {
        this.db
          .prepare("UPDATE rows SET body = randomblob(300) WHERE id = ?")
          .run(Math.floor(rnd() * this.nextId));
      }
      this.db.prepare("DELETE FROM rows WHERE id < ?").run(this.nextId - 250);
    })();
    const before = this.rep.txid;
    const c = rnd();
    // TRUNCATE restarts the WAL, so the next capture is a database-sized L0 file in mid-chain.
    if (c < 0.01) await this.rep.checkpoint("TRUNCATE");
    else if (c < 0.04) await this.rep.checkpoint("PASSIVE");
    await this.rep.captureNow();
    // A checkpoint captures first, so the batch may be in a TXID before the last one: every TXID this
    // call produced holds the same content.
    const state = { hash: contentHash(this.db), at: this.now };
    for (let t = before + 1n; t <= this.rep.txid; t++) this.states.set(t, state);
    return this.rep.txid;
  }

  /** The recorded content at a TXID: captures without a content change (checkpoint boundaries) inherit. */
  stateAt(txid: bigint): State {
    let best: bigint | null = null;
    for (const t of this.states.keys()) if (t <= txid && (best === null || t > best)) best = t;
    if (best === null) throw new Error(`no state recorded at or before TXID ${txid}`);
    return this.states.get(best)!;
  }

  run(signal?: AbortSignal): Promise<MaintenanceReport> {
    return this.maint.run(signal);
  }

  async close(): Promise<void> {
    await this.rep.close({ deadlineMs: 5000 });
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
