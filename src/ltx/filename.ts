/** LTX object names: `%016x-%016x.ltx` with lowercase hex (spec §7.1). */

const LTX_FILENAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;
const U64_MAX = (1n << 64n) - 1n;

/** 16 lowercase hex digits, the text form of TXIDs and checksums everywhere in LTX tooling. */
export function formatTXID(txid: bigint): string {
  if (txid < 0n || txid > U64_MAX) throw new RangeError(`TXID ${txid} is not a u64`);
  return txid.toString(16).padStart(16, "0");
}

export function formatLtxFilename(minTXID: bigint, maxTXID: bigint): string {
  return `${formatTXID(minTXID)}-${formatTXID(maxTXID)}.ltx`;
}

/** Null for anything else, including uppercase hex and `.tmp` files, as Litestream's listings do. */
export function parseLtxFilename(name: string): { minTXID: bigint; maxTXID: bigint } | null {
  const m = LTX_FILENAME_RE.exec(name);
  if (!m) return null;
  return { minTXID: BigInt(`0x${m[1]}`), maxTXID: BigInt(`0x${m[2]}`) };
}
