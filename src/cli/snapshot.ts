import { formatTXID } from "../ltx/filename.js";
import { parseReplicaUrl } from "../replica/url.js";
import { Replicator } from "../replicator.js";
import { parse, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship snapshot <db> <replica-url>
  Captures what is committed, uploads it, and writes a level-9 snapshot of the database now.
  A running \`walship watch\` takes snapshots itself (--snapshot-interval); this command refuses to run
  beside one on the same database.`;

export const command: Command = {
  path: ["snapshot"],
  summary: "take a level-9 snapshot now",
  usage,
  async run(args, io) {
    const { positionals } = parse(args, {}, usage);
    if (positionals.length !== 2) throw usageError("give <db> <replica-url>", usage);
    const client = parseReplicaUrl(positionals[1]!, { env: io.env });
    const r = new Replicator({
      db: positionals[0]!,
      replica: client,
      snapshotIntervalMs: 0,
      initialSnapshot: false,
    });
    try {
      await r.start(io.signal);
      const snap = await r.snapshot(io.signal);
      await r.sync({ signal: io.signal });
      io.stdout.write(
        `snapshot ${formatTXID(1n)}-${formatTXID(snap.txid)} (${snap.bytes} bytes) written to ${client.location}\n`,
      );
    } finally {
      await r.close({ deadlineMs: 10_000 }).catch(() => false);
      await client.close();
    }
    return 0;
  },
};
