/**
 * When a database is captured: a timer every sync interval, and sooner when the -wal file changes, at
 * most once per interval, so a busy database costs at most one PUT per interval while sparse writes ship
 * almost at once. The timer is the fallback that also drives checkpoints and snapshots when nothing
 * changes. Ticks never overlap: a change during a tick asks for one more right after it.
 */
import { type FSWatcher, watch } from "node:fs";
import type { Clock } from "./clock.js";

/** Writes arrive in bursts; wait this long (ms) after a -wal change so one capture takes the whole burst. */
export const WAL_CHANGE_DEBOUNCE_MS = 20;

export class TickScheduler {
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private stopped = true;
  private lastTickAt = 0;
  private kickPending = false;
  private ticking: Promise<void> | null = null;
  private tickAgain = false;

  constructor(
    private readonly walPath: string,
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly onTick: () => Promise<void>,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
    this.watchWal();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  /** Watches the -wal file; until it exists, each tick tries again (the timer drives capture). */
  private watchWal(): void {
    if (this.watcher || this.stopped) return;
    try {
      this.watcher = watch(this.walPath, { persistent: false }, () => this.kick());
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null;
    }
  }

  private schedule(delayMs = this.intervalMs): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick().finally(() => {
        if (!this.timer) this.schedule();
      });
    }, delayMs);
    this.timer.unref?.();
  }

  private kick(): void {
    if (this.kickPending || this.stopped) return;
    this.kickPending = true;
    const due = Math.max(WAL_CHANGE_DEBOUNCE_MS, this.lastTickAt + this.intervalMs - this.clock.now());
    setTimeout(() => {
      this.kickPending = false;
      this.schedule(0);
    }, due).unref?.();
  }

  private tick(): Promise<void> {
    if (this.ticking) {
      this.tickAgain = true;
      return this.ticking;
    }
    this.watchWal();
    this.lastTickAt = this.clock.now();
    this.ticking = this.onTick().finally(() => {
      this.ticking = null;
      if (this.tickAgain && !this.stopped) {
        this.tickAgain = false;
        void this.tick();
      }
    });
    return this.ticking;
  }
}
