import { defaultMetaDir } from "../db/staging.js";
import { readStatusFile } from "../db/status-file.js";
import { parse, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship status <db> [<db> ...] [--json]
  Shows each database's local and replica TXID, lag, pending uploads and last error, as last recorded by
  the walship process replicating it (<dir>/.<name>-walship/status.json).`;

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
    const rows: Array<Partial<StatusFile> & { db: string; state: string }> = [];
    for (const db of positionals) {
      const s = readStatusFile<StatusFile>(defaultMetaDir(db));
      if (s) {
        let running = false;
        try {
          process.kill(s.pid, 0);
          running = true;
        } catch {}
        rows.push({ ...s, db, state: running ? "running" : "stopped" });
      } else {
        rows.push({ db, state: "never replicated" });
      }
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    for (const r of rows) {
      if (!r.txid) {
        io.stdout.write(`${r.db}: ${r.state}\n`);
        continue;
      }
      const age = r.updatedAt ? `${((Date.now() - r.updatedAt) / 1000).toFixed(0)}s ago` : "?";
      io.stdout.write(
        `${r.db}: ${r.state}, txid ${r.txid}, replica ${r.replicaTXID} (${r.replica}), lag ${r.lagSeconds?.toFixed(1)}s, pending ${r.upload?.pending}, breaker ${r.upload?.breaker}, updated ${age}${r.upload?.lastError ? `, last error: ${r.upload.lastError}` : ""}\n`,
      );
    }
    return 0;
  },
};
