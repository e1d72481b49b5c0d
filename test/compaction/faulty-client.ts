/**
 * A ReplicaClient wrapper that fails on purpose: it can abort the caller's run at the n-th request, fail a
 * write after part of its body was consumed (a crash mid-upload), or delete only some files and then fail
 * (a crash mid-retention).
 */
import { WalshipError } from "../../src/errors.js";
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
} from "../../src/replica/client.js";

export type Fault =
  | { kind: "none" }
  | { kind: "abort"; atRequest: number; controller: AbortController }
  | { kind: "write-fails"; afterChunks: number }
  | { kind: "delete-partial" };

export class FaultyClient implements ReplicaClient {
  fault: Fault = { kind: "none" };
  private calls = 0;

  /** `fired` counts the faults that actually fired; share one object across instances to total them. */
  constructor(
    private readonly inner: ReplicaClient,
    readonly stats: { fired: number } = { fired: 0 },
  ) {}

  get type(): string {
    return this.inner.type;
  }
  get location(): string {
    return this.inner.location;
  }
  get requests(): RequestCounts {
    return this.inner.requests;
  }

  arm(f: Fault): void {
    this.fault = f;
    this.calls = 0;
  }

  private tick(): void {
    const f = this.fault;
    if (f.kind === "abort" && ++this.calls === f.atRequest) {
      this.stats.fired++;
      f.controller.abort();
    }
  }

  list(level: number, opts?: ListOptions): Promise<LtxFileInfo[]> {
    this.tick();
    return this.inner.list(level, opts);
  }

  open(level: number, min: bigint, max: bigint, opts?: OpenOptions): Promise<Uint8Array> {
    this.tick();
    return this.inner.open(level, min, max, opts);
  }

  async write(level: number, min: bigint, max: bigint, data: WriteBody, opts: WriteOptions): Promise<void> {
    this.tick();
    const f = this.fault;
    if (f.kind !== "write-fails" || data instanceof Uint8Array)
      return this.inner.write(level, min, max, data, opts);
    const fault = f;
    this.stats.fired++;
    this.fault = { kind: "none" };
    async function* cut(): AsyncGenerator<Uint8Array> {
      let n = 0;
      for await (const c of data as AsyncIterable<Uint8Array>) {
        if (n++ >= fault.afterChunks)
          throw new WalshipError("storage_connection", "connection reset (injected)", { retryable: true });
        yield c;
      }
      throw new WalshipError("storage_connection", "connection reset at the end (injected)", {
        retryable: true,
      });
    }
    return this.inner.write(level, min, max, cut(), opts);
  }

  async delete(files: FileRef[], opts?: CallOptions): Promise<void> {
    this.tick();
    if (this.fault.kind !== "delete-partial" || files.length < 2) return this.inner.delete(files, opts);
    this.stats.fired++;
    this.fault = { kind: "none" };
    // Not necessarily the first ones: a batch deletes in any order.
    await this.inner.delete(
      files.filter((_, i) => i % 2 === 1),
      opts,
    );
    throw new WalshipError("storage_connection", "connection reset during delete (injected)", {
      retryable: true,
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
