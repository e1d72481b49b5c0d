/**
 * The single-writer lease (see lease.ts): one per replica path, on the backend the replica lives on.
 *
 *   const { lease, conditionalWrites } = await openLease(client);   // probes S3 once
 *   await lease.acquire();                                           // or replica_conflict naming the holder
 *   const keeper = new LeaseKeeper(lease, onLost); keeper.start();
 *   const guarded = new LeaseGuardedClient(client, keeper);          // writes fenced by the lease
 */
import { WalshipError } from "../errors.js";
import type { ReplicaClient } from "../replica/client.js";
import { FileReplicaClient } from "../replica/file.js";
import { S3ReplicaClient } from "../replica/s3/client.js";
import { FileLeaseStore } from "./file-lease.js";
import { LeaseGuardedClient } from "./guarded-client.js";
import { LeaseKeeper } from "./keeper.js";
import { IDLE_LAPSE_AFTER_MS, type Lease, type LeaseOptions, StoreLease } from "./lease.js";
import { type ConditionalWriteSupport, probeConditionalWrites, S3LeaseStore } from "./s3-lease.js";

export {
  DEFAULT_LEASE_TTL_MS,
  IDLE_LAPSE_AFTER_MS,
  type Lease,
  type LeaseOptions,
  renewIntervalMs,
} from "./lease.js";
export type { LeaseRecord } from "./record.js";
export type { ConditionalWriteSupport } from "./s3-lease.js";
export { LeaseGuardedClient, LeaseKeeper };

/** Wrappers (fault injection, the lease guard) expose the client they wrap as `inner`. */
export function baseClient(client: ReplicaClient): ReplicaClient {
  let c: ReplicaClient = client;
  for (let i = 0; i < 8 && "inner" in c; i++) {
    const inner = (c as { inner: unknown }).inner;
    if (typeof inner !== "object" || inner === null) break;
    c = inner as ReplicaClient;
  }
  return c;
}

/** Whether createLease knows the replica's backend (S3 and directories; not test doubles). */
export function leaseSupported(client: ReplicaClient): boolean {
  const base = baseClient(client);
  return base instanceof S3ReplicaClient || base instanceof FileReplicaClient;
}

/** A lease on the replica's own backend, or a usage error for a backend that has no lease yet. */
export function createLease(client: ReplicaClient, opts: LeaseOptions = {}): Lease {
  const base = baseClient(client);
  if (base instanceof S3ReplicaClient) return new StoreLease(new S3LeaseStore(base), opts);
  if (base instanceof FileReplicaClient) return new StoreLease(new FileLeaseStore(base.rootPath), opts);
  throw new WalshipError("usage", `no single-writer lease for ${base.type} replicas (${base.location})`, {
    op: "lease",
    hint: "pass lease: false to replicate without one",
  });
}

/**
 * createLease plus, on S3, the start-up probe of conditional writes. `conditionalWrites.enforced` false
 * means the store ignores If-None-Match/If-Match: the lease still refuses a live holder it can see, but two
 * writers starting at the same moment could both win. Callers must warn loudly.
 */
export async function openLease(
  client: ReplicaClient,
  opts: LeaseOptions & { signal?: AbortSignal } = {},
): Promise<{ lease: Lease; conditionalWrites: ConditionalWriteSupport }> {
  const lease = createLease(client, opts);
  const base = baseClient(client);
  const conditionalWrites =
    base instanceof S3ReplicaClient
      ? await probeConditionalWrites(base, opts.signal)
      : { ifNoneMatch: true, ifMatch: true, enforced: true };
  return { lease, conditionalWrites };
}

export interface StartedLease {
  keeper: LeaseKeeper;
  /** The client every replica write goes through: refused once the lease is lost or about to expire. */
  writer: ReplicaClient;
}

/**
 * Takes the lease before replication's first write and keeps it renewed; null when the backend has no
 * lease support or `opt` is false. Warnings name what the lease cannot protect against on this store.
 */
export async function startLease(
  client: ReplicaClient,
  opt: boolean | LeaseOptions,
  o: { signal?: AbortSignal; warn: (message: string) => void; onLost: (e: WalshipError) => void },
): Promise<StartedLease | null> {
  if (opt === false) return null;
  if (!leaseSupported(client)) {
    o.warn(`no single-writer lease on ${client.type} replicas`);
    return null;
  }
  const opts = typeof opt === "object" ? opt : {};
  // The lease compares wall clocks across processes: the real one, not the Replicator's (tests inject a
  // virtual clock for timestamps and schedules), unless the lease options bring their own.
  const { lease, conditionalWrites } = await openLease(client, { ...opts, signal: o.signal });
  if (!conditionalWrites.enforced) {
    o.warn(
      `${client.location} ignores conditional writes (If-None-Match/If-Match): the single-writer lease cannot stop two walship processes that start at the same moment from corrupting this replica`,
    );
  }
  await lease.acquire(o.signal);
  const keeper = new LeaseKeeper(lease, o.onLost, opts.clock, opts.idleLapseMs ?? IDLE_LAPSE_AFTER_MS);
  keeper.start();
  return { keeper, writer: new LeaseGuardedClient(client, keeper) };
}
