/**
 * Samples a process from /proc: VmRSS and VmHWM from /proc/<pid>/status, utime+stime from /proc/<pid>/stat
 * (clock ticks; 100 per second on Linux), every `intervalMs`. The kernel's VmHWM is the exact peak RSS even
 * between samples; the samples give the steady value and the time series.
 */
import { readFileSync } from "node:fs";

const CLK_TCK = 100;

export interface ProcSample {
  /** ms since the sampler started. */
  t: number;
  rssKiB: number;
  cpuS: number;
}

export interface ProcReading {
  rssKiB: number;
  hwmKiB: number;
  cpuS: number;
}

export function readProc(pid: number): ProcReading | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    const hwm = /VmHWM:\s+(\d+)/.exec(status);
    // Fields after the command name (which may hold spaces) start at ") ": utime and stime are 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return {
      rssKiB: rss ? Number(rss[1]) : 0,
      hwmKiB: hwm ? Number(hwm[1]) : 0,
      cpuS: (utime + stime) / CLK_TCK,
    };
  } catch {
    return null;
  }
}

export class ProcSampler {
  readonly samples: ProcSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = Date.now();
  hwmKiB = 0;
  last: ProcReading | null = null;

  constructor(
    readonly pid: number,
    readonly intervalMs = 200,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  sample(): ProcReading | null {
    const r = readProc(this.pid);
    if (r) {
      this.last = r;
      this.hwmKiB = Math.max(this.hwmKiB, r.hwmKiB);
      this.samples.push({ t: Date.now() - this.t0, rssKiB: r.rssKiB, cpuS: r.cpuS });
    }
    return r;
  }

  /** ms since start, for marking phases. */
  now(): number {
    return Date.now() - this.t0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Samples with fromMs <= t < toMs. */
  between(fromMs: number, toMs: number): ProcSample[] {
    return this.samples.filter((s) => s.t >= fromMs && s.t < toMs);
  }

  /** CPU seconds used between two sampler times (nearest samples). */
  cpuBetween(fromMs: number, toMs: number): number {
    const a = this.samples.find((s) => s.t >= fromMs) ?? this.samples[0];
    const bs = this.samples.filter((s) => s.t <= toMs);
    const b = bs[bs.length - 1] ?? this.samples[this.samples.length - 1];
    return a && b ? Math.max(0, b.cpuS - a.cpuS) : 0;
  }
}

/** Load average and the /proc/stat CPU time of the whole machine (for "how busy was the box"). */
export function machineLoad(): { load1: number; load5: number; busyTicks: number; totalTicks: number } {
  const [l1, l5] = readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { load1: l1 ?? 0, load5: l5 ?? 0, busyTicks: total - idle, totalTicks: total };
}
