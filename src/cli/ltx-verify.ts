/** `walship ltx verify <file>`: full decode of one local LTX file with every check the decoder makes. */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { fsError, WalshipError } from "../errors.js";
import { LtxDecoder, type LtxDecodeSummary } from "../ltx/decoder.js";
import { parse, usageError } from "./args.js";
import type { Command } from "./command.js";

const usage = `walship ltx verify <file>
  Decodes a local LTX file and checks header, page order, LZ4 payloads, page index, trailer and file
  checksum. Prints "ok" and exits 0 when valid; otherwise names the broken field and exits 7.`;

/**
 * Streams and verifies `path`, throwing a WalshipError whose message starts with the path and ends with
 * the byte offset, so one line says which file, which field and where.
 */
export async function verifyLtxFile(
  path: string,
  onPage?: (p: { pgno: number; offset: number; size: number; encoding: string }) => void,
): Promise<LtxDecodeSummary> {
  try {
    await stat(path);
  } catch (e) {
    throw fsError(e, "ltx verify", path);
  }
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  try {
    const d = new LtxDecoder(stream);
    for await (const p of d) onPage?.(p);
    return await d.finish();
  } catch (e) {
    if (!(e instanceof WalshipError)) throw fsError(e, "ltx verify", path);
    const at = typeof e.context.offset === "number" ? ` (at byte ${e.context.offset})` : "";
    throw new WalshipError(e.code, `${path}: ${e.message}${at}`, {
      op: e.op,
      context: { ...e.context, path },
      hint: e.hint,
      cause: e,
    });
  } finally {
    stream.destroy();
  }
}

export const command: Command = {
  path: ["ltx", "verify"],
  summary: "verify a local LTX file",
  usage,
  async run(args, io) {
    const { positionals } = parse(args, {}, usage);
    if (positionals.length !== 1) throw usageError("give exactly one LTX file", usage);
    await verifyLtxFile(positionals[0]!);
    io.stdout.write("ok\n");
    return 0;
  },
};
