/**
 * `walship verify <replica-url>`: decodes every file and checks that the replica restores. Exit 0 when
 * whole; otherwise the problems are printed and the command fails with exit 7 (corruption): error code
 * "ltx_invalid" when any file is damaged or foreign, "replica_gap" when the files are sound but do not
 * form a restorable chain (holes, overlaps).
 */
import { formatTXID } from "../ltx/filename.js";
import { parseReplicaUrl } from "../replica/url.js";
import { problemsError, type VerifyProblem } from "../verify/problems.js";
import { type VerifyReport, verifyReplica } from "../verify/verify.js";
import { parse, parseDuration, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship verify <replica-url> [--json] [--deep] [--window DURATION]
  Decodes every LTX file (checksums, structure), checks TXID continuity and overlaps per level, page
  sizes, and that a restore chain reaches the newest TXID. --deep also restores the newest state to a
  temporary file and runs PRAGMA integrity_check. Exit 0 when whole, 7 when not (problems are listed).
  --window DURATION   the point-in-time window holes are judged against (default 24h)`;

const hex = (v: bigint | null | undefined) => (v === null || v === undefined ? null : formatTXID(v));

function problemJson(p: VerifyProblem) {
  return { ...p, minTXID: hex(p.minTXID), maxTXID: hex(p.maxTXID) };
}

function reportJson(r: VerifyReport) {
  return {
    ok: r.problems.length === 0,
    location: r.location,
    files: r.files,
    vanished: r.vanished,
    bytes: r.bytes,
    latestTXID: hex(r.latestTXID),
    pageSize: r.pageSize,
    levels: r.levels.map((l) => ({ ...l, minTXID: hex(l.minTXID), maxTXID: hex(l.maxTXID) })),
    chain: r.chain.map((f) => ({
      level: f.level,
      minTXID: hex(f.minTXID),
      maxTXID: hex(f.maxTXID),
      size: f.size,
    })),
    continuity: r.continuity
      ? { from: hex(r.continuity.from), to: hex(r.continuity.to), base: r.continuity.base }
      : null,
    snapshots: r.snapshots.map(hex),
    deep: r.deep
      ? "error" in r.deep
        ? r.deep
        : { txid: hex(r.deep.txid), integrity: r.deep.integrity }
      : null,
    problems: r.problems.map(problemJson),
  };
}

function reportText(r: VerifyReport): string {
  const out: string[] = [];
  out.push(
    `${r.location}: ${r.files} files, ${r.bytes} bytes, newest TXID ${formatTXID(r.latestTXID)}, page size ${r.pageSize ?? "?"}`,
  );
  for (const l of r.levels) {
    out.push(`  L${l.level}: ${l.files} files, ${l.bytes} bytes, TXIDs ${hex(l.minTXID)}..${hex(l.maxTXID)}`);
  }
  if (r.vanished > 0)
    out.push(`${r.vanished} files were deleted while verify ran (retention on a live replica)`);
  if (r.chain.length > 0) out.push(`latest restore reads ${r.chain.length} files`);
  if (r.continuity) {
    const from = r.continuity.base === "txid1" ? "TXID 1" : `snapshot ${formatTXID(r.continuity.from)}`;
    out.push(`point-in-time restores are continuous from ${from} to ${formatTXID(r.continuity.to)}`);
  }
  if (r.deep && "txid" in r.deep)
    out.push(`deep: restored TXID ${formatTXID(r.deep.txid)}, integrity_check ok`);
  if (r.problems.length === 0) out.push("ok");
  else {
    out.push(`problems (${r.problems.length}):`);
    for (const p of r.problems) out.push(`  [${p.kind}] ${p.message}`);
  }
  return `${out.join("\n")}\n`;
}

export const command: Command = {
  path: ["verify"],
  summary: "check a replica's files and that it restores",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      { json: { type: "boolean" }, deep: { type: "boolean" }, window: { type: "string" } },
      usage,
    );
    if (positionals.length !== 1) throw usageError("give exactly one replica URL", usage);
    const client = parseReplicaUrl(positionals[0]!, { env: io.env });
    let report: VerifyReport;
    try {
      report = await verifyReplica(client, {
        deep: values.deep,
        pitrWindowMs: values.window ? parseDuration(values.window, "--window") : undefined,
        signal: io.signal,
      });
    } finally {
      await client.close();
    }
    io.stdout.write(values.json ? `${JSON.stringify(reportJson(report), null, 2)}\n` : reportText(report));
    if (report.problems.length > 0) throw problemsError(report.location, report.problems);
    return 0;
  },
};
