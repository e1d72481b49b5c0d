/** What a follower reports: events as things happen, and a status snapshot on demand. */
import type { WalshipError } from "../errors.js";

export type BootstrapReason =
  /** No local database yet. */
  | "missing"
  /** Files the follower still needed were compacted away, or the chain no longer fits the local file. */
  | "gap"
  /** The replica's newest TXID is behind the local one: it was reset or restored to an earlier point. */
  | "rewound"
  /** The local database exists but its TXID is unknown (no progress file, or it does not match). */
  | "unknown";

export type FollowEvent =
  | {
      type: "bootstrapped";
      db: string;
      txid: bigint;
      reason: BootstrapReason;
      files: number;
      bytes: number;
      pagesWritten: number;
      durationMs: number;
    }
  | {
      type: "applied";
      db: string;
      fromTXID: bigint;
      txid: bigint;
      files: number;
      pages: number;
      /** From the primary's capture (the newest file's LTX timestamp) to visible locally, in ms. */
      lagMs: number;
      /** Listing, downloading and merging before the apply, in ms. */
      fetchMs: number;
      /** How long the apply waited for readers to release the database, in ms. */
      lockWaitMs: number;
      /** How long readers were held off, in ms. */
      lockHeldMs: number;
    }
  | { type: "waiting"; db: string; reason: string }
  | { type: "poll"; db: string; status: FollowStatus }
  | { type: "error"; db: string; error: WalshipError; fatal: boolean };

export type FollowState = "starting" | "waiting" | "following" | "failed" | "closed";

export interface FollowStatus {
  db: string;
  replica: string;
  state: FollowState;
  /** TXID of the local database (16 hex digits). */
  txid: string;
  /** Newest TXID seen on the replica at the last poll. */
  replicaTXID: string;
  /**
   * How stale the local database may be, in seconds. Caught up: the time since the last successful poll
   * (what is newer than that is not known yet). Behind: the time since the oldest replica file holding
   * something the local database lacks was written.
   */
  lagSeconds: number;
  lastPollAt: number | null;
  lastApplyAt: number | null;
  /** The newest apply's end-to-end delay (primary capture to local visibility), in ms. */
  lastApplyLagMs: number | null;
  polls: number;
  applies: number;
  bootstraps: number;
  errors: number;
  lastError: string | null;
}
