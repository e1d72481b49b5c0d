import { defaultMetaDir } from "../db/staging.js";
import { readStatusFile } from "../db/status-file.js";
import { scratchDir } from "../follow/scratch.js";
import { parse, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship status <db> [<db> ...] [--json]
  Shows each database's local and replica TXID, lag, pending uploads and last error, as last recorded by
  the walship process replicating it (<dir>/.<name>-walship/status.json).`;

/** What a follower (`walship replicate`) records after each poll. */
interface FollowStatusFile {
  txid: string;
  replicaTXID: string;
  replica: string;
  lagSeconds: number;
  applies: number;
  bootstraps: number;
  lastError: string | null;
  pid: number;
  updatedAt: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface StatusFile {
  db: string;
  replica: string;
  txid: string;
  replicaTXID: string;
  lagSeconds: number;
  walBytes: number;
  pid: number;
  updatedAt: number;
  upload: { pending: number; lastError: string | null; breaker: string };
}

export const command: Command = {
  path: ["status"],
  summary: "show replication position and lag of databases",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(args, { json: { type: "boolean" } }, usage);
    if (positionals.length === 0) throw usageError("give one or more database paths", usage);
    const rows: Array<Record<string, unknown> & { db: string; state: string; role: string }> = [];
    for (const db of positionals) {
      const s = readStatusFile<StatusFile>(defaultMetaDir(db));
      const f = s ? null : readStatusFile<FollowStatusFile>(scratchDir(db));
      if (s) rows.push({ ...s, db, role: "primary", state: alive(s.pid) ? "running" : "stopped" });
      else if (f) rows.push({ ...f, db, role: "follower", state: alive(f.pid) ? "running" : "stopped" });
      else rows.push({ db, role: "none", state: "never replicated" });
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    for (const row of rows) {
      const age =
        typeof row.updatedAt === "number" ? `${((Date.now() - row.updatedAt) / 1000).toFixed(0)}s ago` : "?";
      if (row.role === "primary") {
        const r = row as unknown as StatusFile & { state: string };
        io.stdout.write(
          `${r.db}: ${r.state}, txid ${r.txid}, replica ${r.replicaTXID} (${r.replica}), lag ${r.lagSeconds?.toFixed(1)}s, pending ${r.upload?.pending}, breaker ${r.upload?.breaker}, updated ${age}${r.upload?.lastError ? `, last error: ${r.upload.lastError}` : ""}\n`,
        );
      } else if (row.role === "follower") {
        const r = row as unknown as FollowStatusFile & { db: string; state: string };
        io.stdout.write(
          `${r.db}: ${r.state}, follower txid ${r.txid}, replica ${r.replicaTXID} (${r.replica}), lag ${Number(r.lagSeconds).toFixed(1)}s, applies ${r.applies}, bootstraps ${r.bootstraps}, updated ${age}${r.lastError ? `, last error: ${r.lastError}` : ""}\n`,
        );
      } else {
        io.stdout.write(`${row.db}: ${row.state}\n`);
      }
    }
    return 0;
  },
};
