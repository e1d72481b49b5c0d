/**
 * A ReplicaClient whose writes and deletes pass the lease fence first (LeaseKeeper.ready). Reads are not
 * fenced: they cannot corrupt a replica. The Replicator wraps its client in one, so every upload path
 * (L0 files, snapshots, compaction, retention) is covered without each knowing about the lease.
 */
import type {
  CallOptions,
  FileRef,
  ListOptions,
  LtxFileInfo,
  OpenOptions,
  ReplicaClient,
  RequestCounts,
  WriteBody,
  WriteOptions,
} from "../replica/client.js";
import type { LeaseKeeper } from "./keeper.js";

export class LeaseGuardedClient implements ReplicaClient {
  readonly type: string;
  readonly location: string;

  constructor(
    readonly inner: ReplicaClient,
    private readonly keeper: LeaseKeeper,
  ) {
    this.type = inner.type;
    this.location = inner.location;
  }

  get requests(): RequestCounts {
    return this.inner.requests;
  }

  list(level: number, opts?: ListOptions): Promise<LtxFileInfo[]> {
    return this.inner.list(level, opts);
  }

  open(level: number, minTXID: bigint, maxTXID: bigint, opts?: OpenOptions): Promise<Uint8Array> {
    return this.inner.open(level, minTXID, maxTXID, opts);
  }

  async write(
    level: number,
    minTXID: bigint,
    maxTXID: bigint,
    data: WriteBody,
    opts: WriteOptions,
  ): Promise<void> {
    await this.keeper.ready("replica.write");
    await this.inner.write(level, minTXID, maxTXID, data, opts);
  }

  async delete(files: FileRef[], opts?: CallOptions): Promise<void> {
    await this.keeper.ready("replica.delete");
    await this.inner.delete(files, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
