import { EXIT_CODES } from "../errors.js";
import type { FollowEvent, FollowStatus } from "../follow/events.js";
import { Follower } from "../follow/follower.js";
import { createLogger, type Logger, type LogLevel } from "../log.js";
import { parseReplicaUrl } from "../replica/url.js";
import { parse, parseDuration, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship replicate <replica-url> --local <db> [flags]
  Keeps <db> a live, read-only copy of the replica until SIGINT/SIGTERM: bootstraps it when missing, then
  applies new transactions in place. Read it with any SQLite driver; progress is kept in
  <db>-walship-follow.json, so a restart resumes.
  --local PATH                the local database (required)
  --interval 1s               how often the replica is polled
  --lock-timeout 5s           how long an apply waits for readers before retrying at the next poll
  --force                     adopt an existing database without a progress file (rewritten in place)
  --json                      print one JSON status line per poll on stdout
  --log-format text|json      --log-level debug|info|warn|error (debug logs every poll)`;

const LEVELS = ["debug", "info", "warn", "error"];

function logEvent(log: Logger, e: FollowEvent): void {
  switch (e.type) {
    case "bootstrapped":
      log("info", "bootstrapped", {
        db: e.db,
        txid: e.txid,
        reason: e.reason,
        files: e.files,
        bytes: e.bytes,
        pages: e.pagesWritten,
        ms: e.durationMs,
      });
      return;
    case "applied":
      log("debug", "applied", {
        db: e.db,
        from: e.fromTXID,
        txid: e.txid,
        files: e.files,
        pages: e.pages,
        lagMs: e.lagMs,
        fetchMs: e.fetchMs,
        lockWaitMs: e.lockWaitMs,
        lockMs: e.lockHeldMs,
      });
      return;
    case "waiting":
      log("warn", "waiting", { db: e.db, reason: e.reason });
      return;
    case "poll":
      log("debug", "poll", pollFields(e.status));
      return;
    case "error":
      log("error", e.error.oneLine(), { db: e.db, code: e.error.code, fatal: e.fatal });
  }
}

function pollFields(s: FollowStatus): Record<string, unknown> {
  return {
    db: s.db,
    txid: s.txid,
    replicaTXID: s.replicaTXID,
    lagSeconds: Number(s.lagSeconds.toFixed(3)),
    state: s.state,
  };
}

export const command: Command = {
  path: ["replicate"],
  summary: "follow a replica into a live, readable local database",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        local: { type: "string" },
        interval: { type: "string" },
        "lock-timeout": { type: "string" },
        force: { type: "boolean" },
        json: { type: "boolean" },
        "log-format": { type: "string" },
        "log-level": { type: "string" },
      },
      usage,
    );
    if (positionals.length !== 1) throw usageError("give exactly one replica URL", usage);
    if (!values.local) throw usageError("--local <db> is required", usage);
    const level = values["log-level"] ?? "info";
    if (!LEVELS.includes(level))
      throw usageError(`--log-level: "${level}" is not ${LEVELS.join("|")}`, usage);
    const intervalMs = values.interval ? parseDuration(values.interval, "--interval") : undefined;
    if (intervalMs !== undefined && intervalMs <= 0) throw usageError("--interval must be positive", usage);
    const log = createLogger({
      stream: io.stderr,
      format: values["log-format"] === "json" ? "json" : "text",
      level: level as LogLevel,
    });
    const client = parseReplicaUrl(positionals[0]!, { env: io.env });
    const follower = new Follower({
      replica: client,
      local: values.local,
      intervalMs,
      lockTimeoutMs: values["lock-timeout"]
        ? parseDuration(values["lock-timeout"], "--lock-timeout")
        : undefined,
      force: values.force,
      onEvent: (e) => {
        logEvent(log, e);
        if (values.json && e.type === "poll") {
          io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...e.status })}\n`);
        }
      },
    });
    try {
      try {
        await follower.start(io.signal);
      } catch (e) {
        // SIGINT/SIGTERM while waiting for the first snapshot is a normal stop.
        if (io.signal.aborted) return EXIT_CODES.ok;
        throw e;
      }
      const s = follower.status();
      log("info", "following", { db: values.local, replica: client.location, txid: s.txid });
      await Promise.race([
        follower.done,
        new Promise<void>((resolve) => {
          if (io.signal.aborted) resolve();
          else io.signal.addEventListener("abort", () => resolve(), { once: true });
        }),
      ]);
      await follower.close();
      const end = follower.status();
      log("info", "stopped", { db: values.local, txid: end.txid, replicaTXID: end.replicaTXID });
      if (follower.failure) throw follower.failure;
    } finally {
      await follower.close().catch(() => undefined);
      await client.close();
    }
    return EXIT_CODES.ok;
  },
};
