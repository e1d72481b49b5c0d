/**
 * What the crash harness knows and checks: the acknowledgements walship gave (TXID -> transactions known
 * to be in it), and restores made without faults, read with the model (model.ts):
 * - latest holds every acknowledged transaction;
 * - any TXID is a clean prefix holding at least what was acknowledged at or before it;
 * - a TXID restores to the same state every time (the replica never rewrites history), and the number of
 *   transactions grows with the TXID.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { isWalshipError } from "../../src/errors.js";
import type { ReplicaClient } from "../../src/replica/client.js";
import { restore } from "../../src/restore/restore.js";
import { checkState } from "./model.js";

/** Math.max for bigints. */
export function maxTXID(a: bigint, b: bigint): bigint {
  if (a >= b) return a;
  return b;
}

export interface OracleCounts {
  checks: number;
  restores: number;
  txidsChecked: number;
}

export class Oracle {
  /** TXID -> transactions known to be in it. */
  readonly acks = new Map<bigint, number>();
  /** TXID -> transactions a restore found there (must never change). */
  readonly seen = new Map<bigint, number>();
  ackedN = 0;

  constructor(
    private readonly replica: ReplicaClient,
    private readonly dir: string,
    private readonly rnd: () => number,
    private readonly counts: OracleCounts,
    /** Throws: reports a broken invariant. */
    private readonly fail: (msg: string) => never,
  ) {}

  ack(txid: bigint, n: number): void {
    this.acks.set(txid, Math.max(this.acks.get(txid) ?? 0, n));
    this.ackedN = Math.max(this.ackedN, n);
  }

  /** Restores at `txid` (latest when undefined), checks it, and returns its number of transactions. */
  async restoreAt(txid: bigint | undefined, tag: string): Promise<number> {
    const out = join(this.dir, "restores", `${tag}.db`);
    rmSync(out, { force: true });
    this.counts.restores++;
    let at: bigint;
    try {
      at = (await restore(this.replica, { output: out, txid, force: true })).txid ?? 0n;
    } catch (e) {
      // Nothing acknowledged yet: an empty replica is a correct one.
      if (this.acks.size === 0 && txid === undefined && isWalshipError(e, "replica_not_found")) return 0;
      const where = txid === undefined ? "latest" : `at TXID ${txid.toString(16)}`;
      return this.fail(`restore ${where} failed: ${(e as Error).message}`);
    }
    let m: number;
    try {
      m = checkState(out);
    } catch (e) {
      return this.fail(
        `restore ${tag} (TXID ${at.toString(16)}) is not a clean prefix: ${(e as Error).message}`,
      );
    }
    const before = this.seen.get(at);
    if (before !== undefined && before !== m) {
      this.fail(`TXID ${at.toString(16)} restored to ${before} transactions before, ${m} now`);
    }
    this.seen.set(at, m);
    for (const [t, n] of this.seen) {
      if ((t < at && n > m) || (t > at && n < m)) {
        this.fail(`TXID ${t.toString(16)} has ${n} transactions, TXID ${at.toString(16)} has ${m}`);
      }
    }
    const need = [...this.acks].filter(([t]) => t <= at).reduce((a, [, n]) => Math.max(a, n), 0);
    if (m < need) {
      this.fail(
        `TXID ${at.toString(16)} holds ${m} transactions but ${need} were acknowledged at or before it`,
      );
    }
    rmSync(out, { force: true });
    this.counts.txidsChecked++;
    return m;
  }

  /** Latest, a random acknowledged TXID and a random TXID below the newest acknowledged one. */
  async check(label: string): Promise<void> {
    this.counts.checks++;
    const latest = await this.restoreAt(undefined, `${label}-latest`);
    if (latest < this.ackedN) {
      this.fail(`latest restore holds ${latest} transactions; ${this.ackedN} were acknowledged`);
    }
    const txids = [...this.acks.keys()];
    if (txids.length) await this.restoreAt(txids[Math.floor(this.rnd() * txids.length)], `${label}-acked`);
    const newest = txids.reduce(maxTXID, 0n);
    if (newest > 1n) {
      await this.restoreAt(1n + BigInt(Math.floor(this.rnd() * Number(newest - 1n))), `${label}-any`);
    }
  }

  newestChecked(): bigint {
    return [...this.seen.keys()].reduce(maxTXID, 0n);
  }
}
