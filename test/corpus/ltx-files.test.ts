/**
 * Corpus: LTX files damaged at every structural field, truncated, or not LTX at all, in a replica written
 * by walship. For each: `walship restore` exits 7 with one line naming the replica file and the field,
 * creates no output, and leaves every replica file as it was; `walship ltx verify` on the file agrees.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { tempDir } from "../helpers/db.js";
import { type LtxLayout, layoutOf, resign, uvarint } from "./damage.js";
import { buildReplica, copyReplica, errorLine, hashTree, type ReplicaFixture, runCli } from "./fixture.js";

interface Case {
  name: string;
  /** Which file: the level-9 snapshot, or the last level-0 file (both are in the restore plan). */
  file?: "snapshot" | "l0";
  damage(b: Buffer, l: LtxLayout): Buffer;
  /** What the message must say about the field (besides naming the file). */
  says: RegExp;
  /** Default: corruption (7). */
  code?: number;
  /** How the message identifies the file when it names TXIDs rather than the file (cross-file checks). */
  names?: RegExp;
  /**
   * What `ltx verify` says of the file alone when that differs from the restore (a cross-file problem);
   * false when the file alone is valid, so only the restore can see the damage.
   */
  verify?: RegExp | false;
}

const HDR = { flags: 4, pageSize: 8, commit: 12, minTXID: 16, maxTXID: 24, timestamp: 32, pre: 40 };
const HDR2 = { walOffset: 48, walSize: 56, salt1: 64, nodeID: 72 };
const first = (l: LtxLayout) => l.frames[0]!;
/** A damage that edits the bytes in place; `resigned` recomputes the file checksum afterwards. */
function edit(fn: (b: Buffer, l: LtxLayout) => void, resigned = false): Case["damage"] {
  return (b, l) => {
    fn(b, l);
    return resigned ? resign(b, l) : b;
  };
}
const second = (l: LtxLayout) => l.frames[1]!;

const cases: Case[] = [
  // ---- header fields ---------------------------------------------------------------------------------
  {
    name: "wrong magic",
    damage: edit((b) => {
      b.write("XTX1", 0, "latin1");
    }),
    says: /magic is not "LTX1"/,
  },
  {
    name: "magic of another format (SQLite)",
    damage: edit((b) => {
      b.write("SQLite format 3\0", 0, "latin1");
    }),
    says: /not an LTX file/,
  },
  {
    name: "header flags: unknown bit",
    damage: edit((b) => {
      b.writeUInt32BE(0x06, HDR.flags);
    }),
    says: /flags: unknown bits/,
  },
  {
    name: "header flags: LTX v1 CompressLZ4",
    damage: edit((b) => {
      b.writeUInt32BE(0x03, HDR.flags);
    }),
    says: /format v1 .* not supported/,
  },
  {
    name: "header pageSize: not a power of two",
    damage: edit((b) => {
      b.writeUInt32BE(3000, HDR.pageSize);
    }),
    says: /pageSize: 3000/,
  },
  {
    name: "header pageSize: too large",
    damage: edit((b) => {
      b.writeUInt32BE(131072, HDR.pageSize);
    }),
    says: /pageSize: 131072/,
  },
  {
    name: "header pageSize: valid but not the file's (re-signed)",
    damage: edit((b, _l) => {
      b.writeUInt32BE(1024, HDR.pageSize);
    }, true),
    says: /different page sizes: .* has 1024/,
    names: /\(0000000000000001,0000000000000001\) has 1024/,
    verify: /page 1: LZ4 block decodes to more than the 1024-byte output buffer/,
  },
  {
    name: "header commit: smaller than the pages (re-signed)",
    damage: edit((b, _l) => {
      b.writeUInt32BE(2, HDR.commit);
    }, true),
    says: /commit|page 3/i,
  },
  {
    name: "header commit: larger than the pages (re-signed)",
    damage: edit((b, l) => {
      b.writeUInt32BE(l.frames.length + 5, HDR.commit);
    }, true),
    says: /snapshot|missing|incomplete|commit/i,
  },
  {
    name: "header minTXID: zero",
    damage: edit((b) => {
      b.writeBigUInt64BE(0n, HDR.minTXID);
    }),
    says: /minTXID: minimum transaction id required/,
  },
  {
    name: "header maxTXID: zero",
    damage: edit((b) => {
      b.writeBigUInt64BE(0n, HDR.maxTXID);
    }),
    says: /maxTXID: maximum transaction id required/,
  },
  {
    name: "header maxTXID: below minTXID",
    file: "l0",
    damage: edit((b) => {
      b.writeBigUInt64BE(1n, HDR.maxTXID);
    }),
    says: /transaction ids out of order/,
  },
  {
    name: "header TXIDs: disagree with the file name (re-signed)",
    file: "l0",
    damage: edit((b, _l) => {
      b.writeBigUInt64BE(0x40n, HDR.minTXID);
      b.writeBigUInt64BE(0x40n, HDR.maxTXID);
    }, true),
    says: /non-contiguous transaction ids/,
    names: /-> \(0000000000000040,0000000000000040\)/,
    // `ltx verify` checks a file's bytes, not its name against the header (see docs/reliability.md).
    verify: false,
  },
  {
    name: "header timestamp: changed",
    damage: edit((b) => {
      b[HDR.timestamp + 7]! ^= 1;
    }),
    says: /fileChecksum: file checksum mismatch/,
  },
  {
    name: "header preApplyChecksum: set with NoChecksum",
    file: "l0",
    damage: edit((b) => {
      b.writeBigUInt64BE(0x8000000000000123n, HDR.pre);
    }),
    says: /pre-apply checksum not allowed with NoChecksum/,
  },
  {
    name: "header preApplyChecksum: set on a snapshot",
    damage: edit((b) => {
      b.writeBigUInt64BE(0x8000000000000123n, HDR.pre);
    }),
    says: /pre-apply checksum must be zero on snapshots/,
  },
  {
    name: "header walOffset: negative",
    file: "l0",
    damage: edit((b) => {
      b.writeBigInt64BE(-32n, HDR2.walOffset);
    }),
    says: /wal offset cannot be negative/,
  },
  {
    name: "header walSize: without walOffset",
    file: "l0",
    damage: edit((b) => {
      b.writeBigInt64BE(0n, HDR2.walOffset);
      b.writeBigInt64BE(4096n, HDR2.walSize);
      b.writeUInt32BE(0, HDR2.salt1);
      b.writeUInt32BE(0, HDR2.salt1 + 4);
    }),
    says: /wal offset required if wal size exists/,
  },
  {
    name: "header walSalt: without walOffset",
    file: "l0",
    damage: edit((b) => {
      b.writeBigInt64BE(0n, HDR2.walOffset);
      b.writeBigInt64BE(0n, HDR2.walSize);
      b.writeUInt32BE(7, HDR2.salt1);
    }),
    says: /wal offset required if salt exists/,
  },
  {
    name: "header nodeID: changed",
    damage: edit((b) => {
      b[HDR2.nodeID + 7]! ^= 0x10;
    }),
    says: /file checksum mismatch/,
  },
  // ---- page frames -----------------------------------------------------------------------------------
  {
    name: "page header pgno: zero",
    damage: edit((b, l) => {
      b.writeUInt32BE(0, first(l).offset);
    }),
    says: /page number required/,
  },
  {
    name: "page header pgno: out of order (re-signed)",
    damage: edit((b, l) => {
      b.writeUInt32BE(first(l).pgno + 1, first(l).offset);
    }, true),
    says: /snapshot pages must be contiguous: expected page 1, got 2/,
  },
  {
    name: "page header pgno: lock page (re-signed)",
    damage: edit((b, l) => {
      b.writeUInt32BE(262145, second(l).offset);
    }, true),
    says: /lock page|order|commit|page 262145/i,
  },
  {
    name: "page header flags: unknown bit",
    damage: edit((b, l) => {
      b.writeUInt16BE(0x0003, first(l).offset + 4);
    }),
    says: /invalid page header flags: 0x0003/,
  },
  {
    name: "page size field: zero",
    damage: edit((b, l) => {
      b.writeUInt32BE(0, first(l).offset + 6);
    }),
    says: /compressed size 0 is impossible/,
  },
  {
    name: "page size field: beyond the LZ4 bound",
    damage: edit((b, l) => {
      b.writeUInt32BE(0x00ffffff, first(l).offset + 6);
    }),
    says: /compressed size 16777215 is impossible/,
  },
  {
    name: "page size field: one byte short",
    damage: edit((b, l) => {
      b.writeUInt32BE(first(l).size - 11, first(l).offset + 6);
    }),
    says: /lz4|page|flags|order|size/i,
  },
  {
    name: "LZ4 payload: undecodable block",
    damage: edit((b, l) => {
      b.fill(0xff, first(l).offset + 10, first(l).offset + first(l).size);
    }),
    says: /page 1|lz4|LZ4/,
  },
  {
    name: "LZ4 payload: one literal byte flipped",
    damage: edit((b, l) => {
      b[first(l).offset + first(l).size - 2]! ^= 0x55;
    }),
    says: /checksum mismatch|lz4|LZ4/,
  },
  // ---- end marker, index, index size -----------------------------------------------------------------
  {
    name: "end marker: flags set",
    damage: edit((b, l) => {
      b.writeUInt16BE(1, l.endMarkerOffset + 4);
    }),
    says: /page number required/,
  },
  {
    name: "end marker: overwritten by a page number (re-signed)",
    damage: edit((b, l) => {
      b.writeUInt32BE(99, l.endMarkerOffset);
    }, true),
    says: /truncated|flags|order|page/i,
  },
  {
    name: "page index entry: wrong offset (re-signed)",
    damage: (b, l) => {
      const at = l.indexOffset + uvarint(first(l).pgno).length; // first entry's offset varint
      b[at] = (b[at]! + 1) & 0x7f;
      return resign(b, l);
    },
    says: /pageIndex: entry 0/,
  },
  {
    name: "page index: terminator early (re-signed)",
    damage: edit((b, l) => {
      b.writeUInt8(0, l.indexOffset);
    }, true),
    says: /pageIndex|indexSize/,
  },
  {
    name: "index size field: wrong (re-signed)",
    damage: edit((b, l) => {
      b.writeBigUInt64BE(BigInt(l.indexSizeOffset - l.indexOffset + 3), l.indexSizeOffset);
    }, true),
    says: /indexSize: field says/,
  },
  {
    name: "index size field: wrong",
    damage: edit((b, l) => {
      b[l.indexSizeOffset + 7]! ^= 4;
    }),
    says: /indexSize|checksum/,
  },
  // ---- trailer ---------------------------------------------------------------------------------------
  {
    name: "trailer postApplyChecksum: set with NoChecksum (re-signed)",
    damage: edit((b, l) => {
      b.writeBigUInt64BE(0x8000000000000001n, l.trailerOffset);
    }, true),
    says: /postApplyChecksum: must be 0 when the NoChecksum flag is set/,
  },
  {
    name: "trailer file checksum: flipped",
    damage: edit((b) => {
      b[b.length - 1]! ^= 1;
    }),
    says: /fileChecksum: file checksum mismatch/,
  },
  {
    name: "trailer: bytes after it",
    damage: (b) => Buffer.concat([b, Buffer.from("tail")]),
    says: /unexpected bytes after the trailer/,
  },
  // ---- truncation ------------------------------------------------------------------------------------
  {
    name: "empty file",
    damage: () => Buffer.alloc(0),
    says: /truncated|header needs 100 bytes|ended|empty/i,
  },
  { name: "truncated inside the header", damage: (b) => b.subarray(0, 60), says: /truncated|header/i },
  {
    name: "truncated inside a page frame",
    damage: (b, l) => b.subarray(0, second(l).offset + 7),
    says: /truncated/,
  },
  {
    name: "truncated at the end marker",
    damage: (b, l) => b.subarray(0, l.endMarkerOffset),
    says: /truncated/,
  },
  {
    name: "truncated inside the index",
    damage: (b, l) => b.subarray(0, l.indexOffset + 2),
    says: /truncated/,
  },
  { name: "truncated: trailer missing", damage: (b, l) => b.subarray(0, l.trailerOffset), says: /truncated/ },
  { name: "truncated: last byte missing", damage: (b) => b.subarray(0, b.length - 1), says: /truncated/ },
  {
    name: "level-0 file: checksum flipped",
    file: "l0",
    damage: edit((b) => {
      b[b.length - 3]! ^= 1;
    }),
    says: /file checksum mismatch/,
  },
  { name: "level-0 file: truncated", file: "l0", damage: (b) => b.subarray(0, 150), says: /truncated/ },
];

const dir = tempDir("walship-corpus-ltx-");
after(() => rmSync(dir, { recursive: true, force: true }));
let fx: ReplicaFixture;

before(async () => {
  fx = await buildReplica(join(dir, "fixture"));
});

describe("corpus: damaged LTX files", () => {
  cases.forEach((c, i) => {
    it(c.name, async () => {
      const rep = copyReplica(fx.replica, join(dir, `case-${i}`));
      const src = c.file === "l0" ? fx.files["0"]!.at(-1)! : fx.files["9"]![0]!;
      const target = src.replace(fx.replica, rep);
      const intact = readFileSync(target);
      const layout = await layoutOf(intact);
      writeFileSync(target, c.damage(Buffer.from(intact), layout));
      const beforeHash = hashTree(rep);
      const out = join(dir, `out-${i}`, "restored.db");

      const r = await runCli(["restore", rep, "-o", out]);
      const line = errorLine(r);
      assert.equal(r.code, c.code ?? EXIT_CODES.corruption, `exit code; stderr: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
      const level = c.file === "l0" ? 0 : 9;
      if (c.names) assert.match(line, c.names, "names the file");
      else assert.ok(line.includes(`level ${level} file ${basename(target)}`), `names the file: ${line}`);
      assert.match(line, c.says, "names the field");
      assert.match(line, /hint: /, `says what to do: ${line}`);
      assert.equal(existsSync(out), false, "no output database");
      assert.deepEqual(
        existsSync(dirname(out)) ? readdirSync(dirname(out)) : [],
        [],
        "no temporary files left next to the output",
      );
      assert.deepEqual(hashTree(rep), beforeHash, "replica unchanged");

      if (c.verify === false) return;
      const v = await runCli(["ltx", "verify", target]);
      assert.equal(v.code, c.code ?? EXIT_CODES.corruption, v.stderr);
      assert.match(errorLine(v), c.verify ?? c.says);
      assert.ok(errorLine(v).includes(target), "verify names the path");
    });
  });
});
