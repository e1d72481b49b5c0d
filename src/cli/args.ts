/** Flag parsing shared by the commands: node's parseArgs, with usage errors as typed errors. */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { WalshipError } from "../errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

export function parse<O extends Options>(args: string[], options: O, usage: string): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new WalshipError("usage", (e as Error).message.split("\n")[0] ?? "bad arguments", {
      op: "parse arguments",
      hint: usage.split("\n")[0],
    });
  }
}

export function usageError(message: string, usage: string): WalshipError {
  return new WalshipError("usage", message, { op: "parse arguments", hint: usage.split("\n")[0] });
}

/** "1s", "500ms", "2m", "1h", "24h" or a bare number of seconds, to ms. */
export function parseDuration(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m)
    throw new WalshipError("usage", `${flag}: "${v}" is not a duration`, {
      hint: "use e.g. 500ms, 1s, 5m, 24h",
    });
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000;
  return Math.round(n * mult);
}

/** A TXID as 16 hex digits, 0x-prefixed hex, or decimal. */
export function parseTXID(v: string, flag: string): bigint {
  const s = v.trim().toLowerCase();
  try {
    if (/^[0-9a-f]{16}$/.test(s)) return BigInt(`0x${s}`);
    if (/^0x[0-9a-f]+$/.test(s)) return BigInt(s);
    if (/^\d+$/.test(s)) return BigInt(s);
  } catch {}
  throw new WalshipError("usage", `${flag}: "${v}" is not a TXID`, {
    hint: "give 16 hex digits (as listed by `walship ltx`), 0x-prefixed hex, or a decimal number",
  });
}
