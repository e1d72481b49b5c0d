import { formatTXID } from "../ltx/filename.js";
import { parseReplicaUrl } from "../replica/url.js";
import type { FetchProgress } from "../restore/fetch.js";
import { restore } from "../restore/restore.js";
import { parse, parseTXID, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship restore <replica-url> -o <out> [flags]
  Restores the database from a replica to <out> (latest, or a point in time).
  -o, --output PATH           where to write the database (required)
  --txid TXID                 restore up to and including this TXID (16 hex digits, 0x-hex or decimal)
  --timestamp RFC3339         restore the last state written before this time
  --if-db-not-exists          exit 0 without doing anything when <out> exists
  --if-replica-exists         exit 0 without doing anything when the replica holds no backup
  --force                     replace an existing <out> (and its -wal/-shm)
  --dry-run [--json]          print the plan (files, TXIDs, sizes) and change nothing
  --integrity-check quick|full  run PRAGMA quick_check/integrity_check before putting the file in place
  --concurrency N             parallel ranged downloads (default 8)
  Litestream v0.3 backups (generations/...) are restored too, the newest by default:
  --generation ID             restore from this v0.3 generation (16 hex digits)
  --index N                   apply v0.3 WAL up to and including this index (hex, as in the file names)`;

function progressBar(io: { stderr: NodeJS.WritableStream }): (p: FetchProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100 && p.bytesDone < p.bytesTotal) return;
    last = now;
    const frac = p.bytesTotal ? p.bytesDone / p.bytesTotal : 1;
    const width = 30;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
    io.stderr.write(
      `\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${(p.bytesDone / 1048576).toFixed(1)}/${(p.bytesTotal / 1048576).toFixed(1)} MiB, ${p.filesDone}/${p.filesTotal} files`,
    );
    if (p.bytesDone >= p.bytesTotal) io.stderr.write("\n");
  };
}

export const command: Command = {
  path: ["restore"],
  summary: "restore a database from a replica",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        output: { type: "string", short: "o" },
        txid: { type: "string" },
        timestamp: { type: "string" },
        "if-db-not-exists": { type: "boolean" },
        "if-replica-exists": { type: "boolean" },
        force: { type: "boolean" },
        "dry-run": { type: "boolean" },
        json: { type: "boolean" },
        "integrity-check": { type: "string" },
        concurrency: { type: "string" },
        generation: { type: "string" },
        index: { type: "string" },
      },
      usage,
    );
    if (positionals.length !== 1) throw usageError("give exactly one replica URL", usage);
    if (!values.output) throw usageError("-o <out> is required", usage);
    if (values.txid && values.timestamp) throw usageError("--txid and --timestamp cannot be combined", usage);
    let timestamp: number | undefined;
    if (values.timestamp) {
      timestamp = Date.parse(values.timestamp);
      if (!/^\d{4}-\d\d-\d\dT/.test(values.timestamp) || Number.isNaN(timestamp)) {
        throw usageError(`--timestamp: "${values.timestamp}" is not an RFC 3339 time`, usage);
      }
    }
    const ic = values["integrity-check"] ?? "none";
    if (!["none", "quick", "full"].includes(ic))
      throw usageError(`--integrity-check: "${ic}" is not quick or full`, usage);
    const concurrency = values.concurrency ? Number(values.concurrency) : undefined;
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
      throw usageError(`--concurrency: "${values.concurrency}" is not a positive whole number`, usage);
    }
    const generation = values.generation?.trim().toLowerCase();
    if (generation !== undefined && !/^[0-9a-f]{16}$/.test(generation)) {
      throw usageError(
        `--generation: "${values.generation}" is not a v0.3 generation (16 hex digits)`,
        usage,
      );
    }
    const indexArg = values.index?.trim().toLowerCase().replace(/^0x/, "");
    if (indexArg !== undefined && !/^[0-9a-f]{1,8}$/.test(indexArg)) {
      throw usageError(`--index: "${values.index}" is not a v0.3 WAL index (hex, e.g. 00000003)`, usage);
    }
    if ((generation !== undefined || indexArg !== undefined) && values.txid) {
      throw usageError(
        "--txid cannot be combined with --generation/--index (those select v0.3 backups)",
        usage,
      );
    }
    const client = parseReplicaUrl(positionals[0]!, { env: io.env });
    try {
      const r = await restore(client, {
        output: values.output,
        txid: values.txid ? parseTXID(values.txid, "--txid") : undefined,
        timestamp,
        ifDbNotExists: values["if-db-not-exists"],
        ifReplicaExists: values["if-replica-exists"],
        force: values.force,
        dryRun: values["dry-run"],
        integrityCheck: ic as "none" | "quick" | "full",
        concurrency,
        signal: io.signal,
        onProgress: io.isTTY && !values.json ? progressBar(io) : undefined,
        generation,
        index: indexArg === undefined ? undefined : Number.parseInt(indexArg, 16),
      });
      const v3 = r.legacy
        ? {
            generation: r.legacy.generation,
            index: r.legacy.index.toString(16).padStart(8, "0"),
            snapshotIndex: r.legacy.snapshotIndex.toString(16).padStart(8, "0"),
            segments: r.legacy.segments,
          }
        : undefined;
      const at = v3
        ? `v0.3 generation ${v3.generation} WAL index ${v3.index}`
        : `TXID ${formatTXID(r.txid ?? 0n)}`;
      const files = r.files.map((f) => ({
        level: f.level,
        minTXID: formatTXID(f.minTXID),
        maxTXID: formatTXID(f.maxTXID),
        size: f.size,
        createdAt: new Date(f.createdAt).toISOString(),
      }));
      if (values.json) {
        io.stdout.write(
          `${JSON.stringify({ status: r.status, reason: r.reason, output: r.output, txid: r.txid === undefined ? undefined : formatTXID(r.txid), files, legacy: v3 }, null, 2)}\n`,
        );
      } else if (r.status === "skipped") {
        io.stderr.write(`walship restore: nothing to do: ${r.reason}\n`);
      } else if (r.status === "planned") {
        io.stdout.write(
          v3
            ? `plan: restore to ${at} from snapshot ${v3.snapshotIndex} and ${v3.segments} WAL segments\n`
            : `plan: restore to ${at} from ${files.length} files\n`,
        );
        for (const f of files)
          io.stdout.write(`  L${f.level} ${f.minTXID}-${f.maxTXID} ${f.size} bytes ${f.createdAt}\n`);
      } else {
        io.stderr.write(
          v3
            ? `restored ${r.output} at ${at} (snapshot ${v3.snapshotIndex}, ${v3.segments} WAL segments)\n`
            : `restored ${r.output} at ${at} from ${files.length} files\n`,
        );
      }
    } finally {
      await client.close();
    }
    return 0;
  },
};
