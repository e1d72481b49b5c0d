/**
 * A fault-injecting wrapper around a real ReplicaClient, for chaos tests: from a seed it injects errors by
 * kind and rate, latency, timeouts, writes cut off partway (the store keeps nothing: writes are atomic),
 * writes that land but report failure (a lost acknowledgement: the retry must be harmless), silent
 * corruption of written bytes, short reads, and listing lag (a new file not yet listed). Every injected
 * fault is recorded with the seed, so a failing run replays exactly.
 */
import { WalshipError } from "../errors.js";
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
} from "./client.js";

export type FaultKind =
  | "error"
  | "throttle"
  | "auth"
  | "latency"
  | "timeout"
  | "partial-write"
  | "lost-ack"
  | "corrupt"
  | "short-read"
  | "list-lag";

export interface FaultPlan {
  /** Probability per call of a retryable connection error (the request never reached the store). */
  errorRate?: number;
  /** Probability per call of a retryable 503 SlowDown. */
  throttleRate?: number;
  /** Probability per write of flipping one byte of the stored file (silent corruption). */
  corruptRate?: number;
  /** Probability per open of returning fewer bytes than asked. */
  shortReadRate?: number;
  /** Probability that a just-written file is missing from listings for `listLagCalls` list calls. */
  listLagRate?: number;
  listLagCalls?: number;
  /** Added latency per call, uniformly random in [0, latencyMs). */
  latencyMs?: number;
  /** Probability per call of hanging for `timeoutMs` and then failing as a timeout (retryable). */
  timeoutRate?: number;
  timeoutMs?: number;
  /** Probability per write of the body being cut off partway (the store must keep nothing). */
  partialWriteRate?: number;
  /** Probability per write of storing the file and then reporting a connection reset. */
  lostAckRate?: number;
  /** While true, every call fails as unreachable (an outage switch for tests). */
  down?: boolean;
}

export interface FaultRecord {
  seq: number;
  kind: FaultKind;
  op: string;
  detail: string;
}

export class FaultyReplicaClient implements ReplicaClient {
  readonly type: string;
  readonly location: string;
  readonly faults: FaultRecord[] = [];
  plan: FaultPlan;
  private x: number;
  private seq = 0;
  private readonly hidden = new Map<string, number>();

  constructor(
    readonly inner: ReplicaClient,
    readonly seed: number,
    plan: FaultPlan = {},
  ) {
    this.type = inner.type;
    this.location = inner.location;
    this.plan = plan;
    this.x = seed >>> 0 || 1;
  }

  get requests(): RequestCounts {
    return this.inner.requests;
  }

  private rnd(): number {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>> 0;
    return this.x / 0x100000000;
  }

  private record(kind: FaultKind, op: string, detail: string): void {
    this.faults.push({ seq: ++this.seq, kind, op, detail });
  }

  private async before(op: string): Promise<void> {
    if (this.plan.latencyMs) {
      const ms = Math.floor(this.rnd() * this.plan.latencyMs);
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    }
    if (this.plan.down) {
      this.record("error", op, "store down");
      throw new WalshipError("storage_connection", `injected outage (seed ${this.seed})`, {
        op,
        retryable: true,
      });
    }
    if (this.plan.errorRate && this.rnd() < this.plan.errorRate) {
      this.record("error", op, "connection reset");
      throw new WalshipError("storage_connection", `injected connection reset (seed ${this.seed})`, {
        op,
        retryable: true,
      });
    }
    if (this.plan.timeoutRate && this.rnd() < this.plan.timeoutRate) {
      const ms = this.plan.timeoutMs ?? 1_000;
      this.record("timeout", op, `${ms} ms`);
      await new Promise((r) => setTimeout(r, ms));
      throw new WalshipError("storage_connection", `injected timeout after ${ms} ms (seed ${this.seed})`, {
        op,
        retryable: true,
      });
    }
    if (this.plan.throttleRate && this.rnd() < this.plan.throttleRate) {
      this.record("throttle", op, "503 SlowDown");
      throw new WalshipError("storage_throttled", `injected SlowDown (seed ${this.seed})`, {
        op,
        retryable: true,
      });
    }
  }

  async list(level: number, opts?: ListOptions): Promise<LtxFileInfo[]> {
    await this.before("list");
    const files = await this.inner.list(level, opts);
    return files.filter((f) => {
      const key = `${f.level}/${f.minTXID}-${f.maxTXID}`;
      const left = this.hidden.get(key);
      if (left === undefined) return true;
      if (left <= 1) this.hidden.delete(key);
      else this.hidden.set(key, left - 1);
      this.record("list-lag", "list", key);
      return false;
    });
  }

  async open(level: number, minTXID: bigint, maxTXID: bigint, opts?: OpenOptions): Promise<Uint8Array> {
    await this.before("open");
    const b = await this.inner.open(level, minTXID, maxTXID, opts);
    if (b.length > 1 && this.plan.shortReadRate && this.rnd() < this.plan.shortReadRate) {
      const n = Math.floor(this.rnd() * b.length);
      this.record("short-read", "open", `${level}/${minTXID}-${maxTXID} ${n}/${b.length}`);
      return b.subarray(0, n);
    }
    return b;
  }

  async write(
    level: number,
    minTXID: bigint,
    maxTXID: bigint,
    data: WriteBody,
    opts: WriteOptions,
  ): Promise<void> {
    await this.before("write");
    let body = data;
    if (this.plan.corruptRate && this.rnd() < this.plan.corruptRate) {
      const chunks: Uint8Array[] = [];
      if (data instanceof Uint8Array) chunks.push(data);
      else for await (const c of data) chunks.push(c);
      const all = Buffer.concat(chunks);
      const at = Math.floor(this.rnd() * all.length);
      all[at] = (all[at] ?? 0) ^ 0xff;
      this.record("corrupt", "write", `${level}/${minTXID}-${maxTXID} byte ${at}`);
      body = all;
    }
    const name = `${level}/${minTXID}-${maxTXID}`;
    if (this.plan.partialWriteRate && this.rnd() < this.plan.partialWriteRate) {
      const cutAfter = Math.floor(this.rnd() * 8192);
      this.record("partial-write", "write", `${name} cut after ${cutAfter} bytes`);
      body = cutOff(body, cutAfter, this.seed);
    }
    await this.inner.write(level, minTXID, maxTXID, body, opts);
    if (this.plan.lostAckRate && this.rnd() < this.plan.lostAckRate) {
      this.record("lost-ack", "write", name);
      throw new WalshipError(
        "storage_connection",
        `injected reset after the write landed (seed ${this.seed})`,
        {
          op: "write",
          retryable: true,
        },
      );
    }
    if (this.plan.listLagRate && this.rnd() < this.plan.listLagRate) {
      this.hidden.set(`${level}/${minTXID}-${maxTXID}`, this.plan.listLagCalls ?? 1);
    }
  }

  async delete(files: FileRef[], opts?: CallOptions): Promise<void> {
    await this.before("delete");
    await this.inner.delete(files, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The body up to `limit` bytes, then a connection error, as a network cut mid-upload looks to a client. */
async function* cutOff(body: WriteBody, limit: number, seed: number): AsyncGenerator<Uint8Array> {
  let sent = 0;
  for await (const c of body instanceof Uint8Array ? [body] : body) {
    if (sent + c.length > limit) {
      yield c.subarray(0, Math.max(0, limit - sent));
      throw new WalshipError("storage_connection", `injected cut-off mid-upload (seed ${seed})`, {
        op: "write",
        retryable: true,
      });
    }
    sent += c.length;
    yield c;
  }
  throw new WalshipError("storage_connection", `injected cut-off at the end of the upload (seed ${seed})`, {
    op: "write",
    retryable: true,
  });
}
