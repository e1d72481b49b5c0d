import { formatTXID } from "../ltx/filename.js";
import { type LtxFileInfo, SNAPSHOT_LEVEL } from "../replica/client.js";
import { parseReplicaUrl } from "../replica/url.js";
import { parse, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship ltx <replica-url> [--level N|all] [--json]
  Lists the LTX files of a replica: level, TXID range, size and creation time (default: every level).`;

export const command: Command = {
  path: ["ltx"],
  summary: "list a replica's LTX files per level",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      { level: { type: "string" }, json: { type: "boolean" } },
      usage,
    );
    if (positionals.length !== 1) throw usageError("give exactly one replica URL", usage);
    const client = parseReplicaUrl(positionals[0]!, { env: io.env });
    const lv = values.level ?? "all";
    let levels: number[];
    if (lv === "all") levels = Array.from({ length: SNAPSHOT_LEVEL + 1 }, (_, i) => i);
    else {
      const n = Number(lv);
      if (!Number.isInteger(n) || n < 0 || n > SNAPSHOT_LEVEL)
        throw usageError(`--level: "${lv}" is not 0-9 or all`, usage);
      levels = [n];
    }
    const files: LtxFileInfo[] = [];
    try {
      for (const level of levels) files.push(...(await client.list(level, { signal: io.signal })));
    } finally {
      await client.close();
    }
    if (values.json) {
      const out = files.map((f) => ({
        level: f.level,
        minTXID: formatTXID(f.minTXID),
        maxTXID: formatTXID(f.maxTXID),
        size: f.size,
        createdAt: new Date(f.createdAt).toISOString(),
      }));
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    io.stdout.write(
      `${"level".padEnd(6)}${"min_txid".padEnd(18)}${"max_txid".padEnd(18)}${"size".padStart(12)}  created\n`,
    );
    for (const f of files) {
      io.stdout.write(
        `${String(f.level).padEnd(6)}${formatTXID(f.minTXID).padEnd(18)}${formatTXID(f.maxTXID).padEnd(18)}${String(f.size).padStart(12)}  ${new Date(f.createdAt).toISOString()}\n`,
      );
    }
    return 0;
  },
};
