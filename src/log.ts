/** Structured log lines (text or JSON) written to one stream; injected, never global. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

function fmt(v: unknown): string {
  if (typeof v === "bigint") return v.toString(16).padStart(16, "0");
  if (typeof v === "string") return /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

export function createLogger(opts: {
  stream: NodeJS.WritableStream;
  format?: "text" | "json";
  level?: LogLevel;
  now?: () => number;
}): Logger {
  const min = ORDER[opts.level ?? "info"];
  const now = opts.now ?? Date.now;
  return (level, msg, fields = {}) => {
    if (ORDER[level] < min) return;
    const time = new Date(now()).toISOString();
    if (opts.format === "json") {
      opts.stream.write(
        `${JSON.stringify({ time, level, msg, ...fields }, (_k, v) => (typeof v === "bigint" ? fmt(v) : v))}\n`,
      );
    } else {
      const kv = Object.entries(fields)
        .map(([k, v]) => `${k}=${fmt(v)}`)
        .join(" ");
      opts.stream.write(`${time} ${level.toUpperCase()} ${msg}${kv ? ` ${kv}` : ""}\n`);
    }
  };
}
