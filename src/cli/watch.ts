import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from "../defaults.js";
import { EXIT_CODES, exitCodeFor, WalshipError } from "../errors.js";
import { createLogger, type LogLevel } from "../log.js";
import { parseReplicaUrl } from "../replica/url.js";
import { type ReplicaEvent, Replicator } from "../replicator.js";
import { parse, parseDuration, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship watch <db> <replica-url> [<db> <replica-url> ...] [flags]
  Replicates each database to its replica until SIGINT/SIGTERM, then uploads what is staged and exits.
  --sync-interval 1s          how often the WAL is read (also sooner when the -wal file changes)
  --snapshot-interval 24h     how often a level-9 snapshot is taken (0 = only when the replica has none)
  --checkpoint-pages 1000     PASSIVE checkpoint once the WAL holds this many pages
  --checkpoint-interval 1m    PASSIVE checkpoint at least this often after writes (0 = off)
  --truncate-pages 121359     emergency TRUNCATE checkpoint threshold in pages (-1 = off)
  --busy-timeout 5s           how long walship's connections wait for SQLite locks
  --shutdown-timeout 10s      how long to keep uploading after SIGINT/SIGTERM
  --log-format text|json      --log-level debug|info|warn|error`;

function describe(e: ReplicaEvent): [LogLevel, string, Record<string, unknown>] {
  switch (e.type) {
    case "synced":
      return ["debug", "synced", { db: e.db, txid: e.txid, pages: e.pages, full: e.full }];
    case "uploaded":
      return ["debug", "uploaded", { db: e.db, txid: e.maxTXID, bytes: e.bytes }];
    case "checkpointed":
      return ["info", "checkpoint", { db: e.db, mode: e.mode, ms: e.durationMs, busy: e.busy }];
    case "snapshot":
      return ["info", "snapshot", { db: e.db, txid: e.txid, bytes: e.bytes }];
    case "error":
      return ["error", e.error.oneLine(), { db: e.db, code: e.error.code, fatal: e.fatal }];
  }
}

export const command: Command = {
  path: ["watch"],
  summary: "replicate databases continuously",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        "sync-interval": { type: "string" },
        "snapshot-interval": { type: "string" },
        "checkpoint-pages": { type: "string" },
        "checkpoint-interval": { type: "string" },
        "truncate-pages": { type: "string" },
        "busy-timeout": { type: "string" },
        "shutdown-timeout": { type: "string" },
        "log-format": { type: "string" },
        "log-level": { type: "string" },
      },
      usage,
    );
    if (positionals.length === 0 || positionals.length % 2 !== 0) {
      throw usageError("give one or more <db> <replica-url> pairs", usage);
    }
    const format = values["log-format"] === "json" ? "json" : "text";
    const level = (values["log-level"] ?? "info") as LogLevel;
    const log = createLogger({ stream: io.stderr, format, level });
    const num = (v: string | undefined, flag: string) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n)) throw usageError(`${flag}: "${v}" is not a whole number`, usage);
      return n;
    };
    const dur = (v: string | undefined, flag: string) =>
      v === undefined ? undefined : parseDuration(v, flag);
    const reps: Replicator[] = [];
    let fatal: WalshipError | null = null;
    const fatalAc = new AbortController();
    const onEvent = (e: ReplicaEvent) => {
      const [lvl, msg, fields] = describe(e);
      log(lvl, msg, fields);
      if (e.type === "error" && e.fatal) {
        fatal = e.error;
        fatalAc.abort();
      }
    };
    try {
      for (let i = 0; i < positionals.length; i += 2) {
        const db = positionals[i]!;
        const client = parseReplicaUrl(positionals[i + 1]!, { env: io.env });
        const r = new Replicator({
          db,
          replica: client,
          syncIntervalMs: dur(values["sync-interval"], "--sync-interval"),
          snapshotIntervalMs: dur(values["snapshot-interval"], "--snapshot-interval"),
          minCheckpointPages: num(values["checkpoint-pages"], "--checkpoint-pages"),
          checkpointIntervalMs: dur(values["checkpoint-interval"], "--checkpoint-interval"),
          truncatePages: num(values["truncate-pages"], "--truncate-pages"),
          busyTimeoutMs: dur(values["busy-timeout"], "--busy-timeout"),
          onEvent,
        });
        await r.start(io.signal);
        reps.push(r);
        log("info", "replicating", { db, replica: client.location, txid: r.txid });
      }
      await new Promise<void>((resolve) => {
        if (io.signal.aborted || fatalAc.signal.aborted) return resolve();
        io.signal.addEventListener("abort", () => resolve(), { once: true });
        fatalAc.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    } finally {
      const deadlineMs = dur(values["shutdown-timeout"], "--shutdown-timeout") ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
      if (reps.length) log("info", "shutting down: uploading staged files", { deadlineMs });
      const results = await Promise.all(reps.map((r) => r.close({ deadlineMs })));
      for (let i = 0; i < reps.length; i++) {
        const s = reps[i]!.status();
        log(
          results[i] ? "info" : "warn",
          results[i] ? "drained" : "not drained: files stay staged for the next start",
          {
            db: s.db,
            txid: s.txid,
            replicaTXID: s.replicaTXID,
          },
        );
      }
      for (const r of reps) await r.client.close();
      if (!fatal && results.some((ok) => !ok)) {
        fatal = new WalshipError(
          "storage_connection",
          "replica did not receive every staged file before the deadline",
          {
            hint: "staged files are kept and uploaded on the next start",
          },
        );
      }
    }
    if (fatal) {
      const err = fatal as WalshipError;
      if (err.code === "storage_auth" || err.code === "replica_not_found") throw err;
      io.stderr.write(`walship watch: ${err.oneLine()}\n`);
      return exitCodeFor(err);
    }
    return EXIT_CODES.ok;
  },
};
