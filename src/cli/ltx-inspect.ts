/** `walship ltx inspect <file> [--json]`: header, encoding, pages and checksums of a local LTX file. */
import { formatChecksum } from "../ltx/checksum.js";
import { formatTXID } from "../ltx/filename.js";
import { HEADER_FLAG_NO_CHECKSUM, isSnapshot } from "../ltx/header.js";
import { parse, usageError } from "./args.js";
import type { Command } from "./command.js";
import { verifyLtxFile } from "./ltx-verify.js";

const usage = `walship ltx inspect <file> [--json]
  Decodes and verifies a local LTX file, then prints its header fields, page encoding, the page list
  (pgno, frame offset, frame size) and its checksums. TXIDs and checksums are 16 lowercase hex digits.`;

const ENCODING_NOTES: Record<string, string> = {
  "lz4-block": "lz4-block (ltx >= v0.5.2; readable by Litestream >= v0.5.16)",
  "lz4-frame": "lz4-frame, legacy (ltx v0.5.0/v0.5.1; Litestream v0.5.0-v0.5.15)",
};

export const command: Command = {
  path: ["ltx", "inspect"],
  summary: "show the header, pages and checksums of a local LTX file",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(args, { json: { type: "boolean" } }, usage);
    if (positionals.length !== 1) throw usageError("give exactly one LTX file", usage);
    const path = positionals[0]!;
    const encodings = new Set<string>();
    const s = await verifyLtxFile(path, (p) => encodings.add(p.encoding));
    const h = s.header;
    const pages = s.index.map((e) => ({ pgno: e.pgno, offset: e.offset, size: e.size }));
    if (values.json) {
      const out = {
        flags: h.flags,
        pageSize: h.pageSize,
        commit: h.commit,
        minTXID: formatTXID(h.minTXID),
        maxTXID: formatTXID(h.maxTXID),
        timestamp: Number(h.timestamp),
        preApplyChecksum: formatChecksum(h.preApplyChecksum),
        postApplyChecksum: formatChecksum(s.trailer.postApplyChecksum),
        fileChecksum: formatChecksum(s.trailer.fileChecksum),
        walOffset: Number(h.walOffset),
        walSize: Number(h.walSize),
        walSalt1: h.walSalt1,
        walSalt2: h.walSalt2,
        nodeID: formatTXID(h.nodeID),
        pages,
      };
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const encoding =
      encodings.size === 0
        ? "none (no pages)"
        : [...encodings].map((e) => ENCODING_NOTES[e] ?? e).join(" + ");
    const flagNames = h.flags & HEADER_FLAG_NO_CHECKSUM ? " (NoChecksum)" : " (checksums tracked)";
    const ts = Number(h.timestamp);
    const when = Number.isFinite(new Date(ts).getTime()) ? ` (${new Date(ts).toISOString()})` : "";
    const hex32 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
    const rows: [string, string][] = [
      ["file", path],
      ["kind", isSnapshot(h) ? "snapshot" : "incremental"],
      ["encoding", encoding],
      ["flags", `${hex32(h.flags)}${flagNames}`],
      ["page size", String(h.pageSize)],
      ["commit", `${h.commit} pages`],
      ["min TXID", formatTXID(h.minTXID)],
      ["max TXID", formatTXID(h.maxTXID)],
      ["timestamp", `${ts}${when}`],
      ["pre-apply", formatChecksum(h.preApplyChecksum)],
      ["post-apply", formatChecksum(s.trailer.postApplyChecksum)],
      ["file checksum", formatChecksum(s.trailer.fileChecksum)],
      ["WAL offset", String(h.walOffset)],
      ["WAL size", String(h.walSize)],
      ["WAL salts", `${hex32(h.walSalt1)} ${hex32(h.walSalt2)}`],
      ["node ID", formatTXID(h.nodeID)],
      ["size", `${s.size} bytes`],
      ["page index", `offset ${s.indexOffset}, ${s.indexSize} bytes`],
      ["pages", String(pages.length)],
    ];
    const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(15)}${v}`);
    if (pages.length > 0) {
      lines.push("", `${"pgno".padStart(10)}${"offset".padStart(12)}${"size".padStart(10)}`);
      for (const p of pages) {
        lines.push(
          `${String(p.pgno).padStart(10)}${String(p.offset).padStart(12)}${String(p.size).padStart(10)}`,
        );
      }
    }
    io.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  },
};
