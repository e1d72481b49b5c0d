/** `walship compact <replica-url>`: compaction and retention on demand; a dry run unless --force. */
import { systemClock } from "../clock.js";
import { Maintainer, type MaintenancePlan, type MaintenanceReport } from "../compaction/maintainer.js";
import type { GfsPolicy } from "../compaction/policy.js";
import { formatTXID } from "../ltx/filename.js";
import type { LtxFileInfo } from "../replica/client.js";
import { parseReplicaUrl } from "../replica/url.js";
import { parse, parseDuration, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship compact <replica-url> [--force] [--json] [policy flags]
  Merges each level into the next (L0->L1->L2->L3) and applies retention, as \`walship watch\` does in
  the background. Without --force nothing changes: it prints what would be merged and deleted, with sizes.
  --force               do it
  --json                machine-readable output
  --hourly N            snapshots kept: the newest of each of the last N hours with one (default 24)
  --daily N             ... of the last N days (default 7)
  --weekly N            ... of the last N ISO weeks (default 12)
  --monthly N           ... of the last N months (default 12)
  --window DURATION     continuous point-in-time window (default 24h)
  --l0-retention DURATION  keep compacted L0 files this long (default 5m)
  Do not run --force against a replica whose \`walship watch\` uses a different policy.`;

function count(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
    throw usageError(`--${flag}: "${v}" is not a whole number`, usage);
  return n;
}

function ref(f: LtxFileInfo) {
  return {
    level: f.level,
    minTXID: formatTXID(f.minTXID),
    maxTXID: formatTXID(f.maxTXID),
    size: f.size,
    createdAt: new Date(f.createdAt).toISOString(),
  };
}

function files(n: number): string {
  return n === 1 ? "1 file" : `${n} files`;
}

function name(f: { minTXID: bigint; maxTXID: bigint }): string {
  return `${formatTXID(f.minTXID)}-${formatTXID(f.maxTXID)}`;
}

function planJson(p: MaintenancePlan) {
  return {
    dryRun: true,
    compactions: p.compactions.map((c) => ({
      level: c.level,
      sourceLevel: c.sourceLevel,
      minTXID: formatTXID(c.minTXID),
      maxTXID: formatTXID(c.maxTXID),
      inputBytes: c.inputBytes,
      inputs: c.inputs.map(ref),
    })),
    deletions: p.deletions.map((d) => ({ ...ref(d.file), reason: d.reason })),
    deleteBytes: p.deletions.reduce((n, d) => n + d.file.size, 0),
    snapshotsKept: p.snapshots.map((s) => ({ ...ref(s.file), reasons: s.reasons })),
    floor: formatTXID(p.floor),
    blocked: p.blocked ?? null,
  };
}

function planText(p: MaintenancePlan): string {
  const out: string[] = [];
  out.push(`would merge (${p.compactions.length}):`);
  for (const c of p.compactions) {
    out.push(
      `  L${c.sourceLevel} -> L${c.level}  ${name(c)}  from ${files(c.inputs.length)}, ${c.inputBytes} bytes`,
    );
  }
  const bytes = p.deletions.reduce((n, d) => n + d.file.size, 0);
  out.push(`would delete (${files(p.deletions.length)}, ${bytes} bytes):`);
  for (const d of p.deletions) {
    out.push(`  L${d.file.level} ${name(d.file)}  ${String(d.file.size).padStart(10)} bytes  ${d.reason}`);
  }
  out.push(`snapshots kept (${p.snapshots.length}):`);
  for (const s of p.snapshots) {
    out.push(`  ${name(s.file)}  ${new Date(s.file.createdAt).toISOString()}  ${s.reasons.join(", ")}`);
  }
  out.push(
    p.anchor
      ? `point-in-time window starts at snapshot ${name(p.anchor)}; incremental files at or below ${formatTXID(p.floor)} are not needed`
      : "point-in-time window reaches TXID 1 (no snapshot is older than the window)",
  );
  if (p.blocked) out.push(`note: ${p.blocked}`);
  out.push("dry run: nothing changed; pass --force to apply");
  return `${out.join("\n")}\n`;
}

function reportJson(r: MaintenanceReport) {
  return {
    dryRun: false,
    compacted: r.compactions.map((c) => ({ ...ref(c), sourceLevel: c.sourceLevel, inputs: c.inputs })),
    deleted: r.deleted.map(ref),
    deleteBytes: r.deleted.reduce((n, f) => n + f.size, 0),
    requests: r.requests,
  };
}

export const command: Command = {
  path: ["compact"],
  summary: "compact a replica and apply retention (dry run unless --force)",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        force: { type: "boolean" },
        json: { type: "boolean" },
        hourly: { type: "string" },
        daily: { type: "string" },
        weekly: { type: "string" },
        monthly: { type: "string" },
        window: { type: "string" },
        "l0-retention": { type: "string" },
      },
      usage,
    );
    if (positionals.length !== 1) throw usageError("give exactly one replica URL", usage);
    const gfs: Partial<GfsPolicy> = {};
    for (const k of ["hourly", "daily", "weekly", "monthly"] as const) {
      const n = count(values[k], k);
      if (n !== undefined) gfs[k] = n;
    }
    const client = parseReplicaUrl(positionals[0]!, { env: io.env });
    try {
      const m = new Maintainer(client, {
        clock: systemClock,
        ignoreSchedule: true,
        gfs,
        pitrWindowMs: values.window ? parseDuration(values.window, "--window") : undefined,
        l0RetentionMs: values["l0-retention"]
          ? parseDuration(values["l0-retention"], "--l0-retention")
          : undefined,
      });
      if (!values.force) {
        const p = await m.plan(io.signal);
        io.stdout.write(values.json ? `${JSON.stringify(planJson(p), null, 2)}\n` : planText(p));
        return 0;
      }
      const r = await m.run(io.signal);
      if (values.json) io.stdout.write(`${JSON.stringify(reportJson(r), null, 2)}\n`);
      else {
        for (const c of r.compactions) {
          io.stdout.write(
            `merged L${c.sourceLevel} -> L${c.level} ${name(c)}: ${files(c.inputs)} into ${c.size} bytes\n`,
          );
        }
        const bytes = r.deleted.reduce((n, f) => n + f.size, 0);
        io.stdout.write(`deleted ${files(r.deleted.length)}, ${bytes} bytes\n`);
      }
      if (r.errors.length > 0) throw r.errors[0];
      return 0;
    } finally {
      await client.close();
    }
  },
};
