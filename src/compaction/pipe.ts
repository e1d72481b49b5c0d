/**
 * A one-slot channel from a push-style producer (compactLtx's write callback) to a pull-style consumer
 * (an upload's AsyncIterable body). put() resolves only once the consumer took the chunk, so at most one
 * chunk waits here, and a consumer that stops early makes the producer's next put() fail instead of hang.
 */
import { abortError } from "../errors.js";

export class ChunkPipe implements AsyncIterable<Uint8Array> {
  private slot: Uint8Array | null = null;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private cancelled = false;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;

  async put(chunk: Uint8Array): Promise<void> {
    if (this.cancelled) throw abortError("compaction upload");
    this.slot = chunk;
    this.wake("consumer");
    while (this.slot !== null && !this.cancelled) {
      await new Promise<void>((resolve) => {
        this.wakeProducer = resolve;
      });
    }
    if (this.cancelled) throw abortError("compaction upload");
  }

  end(): void {
    this.ended = true;
    this.wake("consumer");
  }

  fail(error: unknown): void {
    this.failure = { error };
    this.wake("consumer");
  }

  /** The consumer is gone: release a waiting producer with an error. */
  cancel(): void {
    this.cancelled = true;
    this.slot = null;
    this.wake("producer");
  }

  private wake(who: "consumer" | "producer"): void {
    const w = who === "consumer" ? this.wakeConsumer : this.wakeProducer;
    if (who === "consumer") this.wakeConsumer = null;
    else this.wakeProducer = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.slot !== null) {
        const c = this.slot;
        this.slot = null;
        this.wake("producer");
        yield c;
        continue;
      }
      if (this.failure) throw this.failure.error;
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
      });
    }
  }
}
