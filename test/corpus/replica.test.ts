/**
 * Corpus: replicas that cannot be restored as asked, and restore outputs that cannot be written: an empty
 * replica, a file where the replica directory should be, a replica mixing page sizes, a hole in the chain,
 * a chain without its start, targets outside the replica, an existing or unwritable output. Each fails
 * with one line naming the replica or path and the fix, writes no output and changes no replica file.
 * Junk next to the LTX files and a garbage -wal next to the database are not errors: they are ignored.
 */
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { createWalDb, fileContentHash, integrityCheck, tempDir } from "../helpers/db.js";
import { type CliCase, runCase } from "./cli-case.js";
import { buildReplica, copyReplica, type ReplicaFixture, runCli } from "./fixture.js";

const dir = tempDir("walship-corpus-replica-");
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));
let A: ReplicaFixture;
let B: ReplicaFixture;

before(async () => {
  A = await buildReplica(join(dir, "A"));
  B = await buildReplica(join(dir, "B"), 1024);
});

function restore(rep: string, out: string, ...extra: string[]): string[] {
  return ["restore", rep, "-o", out, ...extra];
}

const cases: CliCase[] = [
  {
    name: "empty replica",
    setup: (d) => {
      mkdirSync(join(d, "rep"), { recursive: true });
      return {
        args: restore(join(d, "rep"), join(d, "out.db")),
        unchanged: [join(d, "rep")],
        absent: [join(d, "out.db")],
      };
    },
    code: EXIT_CODES.notFound,
    says: [/no backup files available in .*rep/, /check the replica URL/],
  },
  {
    name: "replica path is a regular file",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "rep"), "not a directory");
      return {
        args: restore(join(d, "rep"), join(d, "out.db")),
        unchanged: [join(d, "rep")],
        absent: [join(d, "out.db")],
      };
    },
    code: EXIT_CODES.notFound,
    says: [/not a directory: a part of .*rep/, /must name a directory/],
  },
  {
    name: "replica mixing page sizes",
    setup: (d) => {
      const rep = copyReplica(A.replica, join(d, "rep"));
      // Level-0 files 2..4 of a 1024-byte-page database replace the 4096-byte ones with the same TXIDs.
      for (const f of B.files["0"]!.slice(1)) copyFileSync(f, f.replace(B.replica, rep));
      return { args: restore(rep, join(d, "out.db")), unchanged: [rep], absent: [join(d, "out.db")] };
    },
    code: EXIT_CODES.corruption,
    says: [
      /different page sizes: \(0000000000000001,0000000000000001\) has 4096, \(0000000000000002,0000000000000002\) has 1024/,
      /--txid 0000000000000001/,
    ],
  },
  {
    name: "hole in the chain (a level-0 file missing)",
    setup: (d) => {
      const rep = copyReplica(A.replica, join(d, "rep"));
      rmSync(A.files["0"]![2]!.replace(A.replica, rep));
      return { args: restore(rep, join(d, "out.db")), unchanged: [rep], absent: [join(d, "out.db")] };
    },
    code: EXIT_CODES.corruption,
    says: [/chain ends at 0000000000000002 but level 0 has 0000000000000004-0000000000000004/, /--txid/],
  },
  {
    name: "no snapshot and no chain from TXID 1",
    setup: (d) => {
      const rep = copyReplica(A.replica, join(d, "rep"));
      rmSync(join(rep, "ltx", "9"), { recursive: true });
      rmSync(A.files["0"]![0]!.replace(A.replica, rep));
      return { args: restore(rep, join(d, "out.db")), unchanged: [rep], absent: [join(d, "out.db")] };
    },
    code: EXIT_CODES.notFound,
    says: [
      /has no snapshot and no chain from TXID 1 \(its oldest file starts at 0000000000000002\)/,
      /walship snapshot/,
    ],
  },
  {
    name: "--txid beyond the newest",
    setup: (d) => ({
      args: restore(A.replica, join(d, "out.db"), "--txid", "0x99"),
      unchanged: [A.replica],
      absent: [join(d, "out.db")],
    }),
    code: EXIT_CODES.notFound,
    says: [/TXID 0000000000000099 is not available .*newest reachable: 0000000000000004/, /walship ltx/],
  },
  {
    name: "--timestamp before the first file",
    setup: (d) => ({
      args: restore(A.replica, join(d, "out.db"), "--timestamp", "2001-01-01T00:00:00Z"),
      unchanged: [A.replica],
      absent: [join(d, "out.db")],
    }),
    code: EXIT_CODES.notFound,
    says: [
      /no restore point before 2001-01-01T00:00:00.000Z .*oldest file was written at/,
      /later --timestamp/,
    ],
  },
  {
    name: "restore output already exists",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      const out = join(d, "existing.db");
      createWalDb(out).close();
      return { args: restore(A.replica, out), unchanged: [out, A.replica] };
    },
    code: EXIT_CODES.database,
    says: [/existing\.db already exists/, /--force/],
  },
  {
    name: "restore output below a regular file",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "file"), "x");
      return { args: restore(A.replica, join(d, "file", "out.db")), unchanged: [join(d, "file"), A.replica] };
    },
    code: EXIT_CODES.usage,
    says: [/cannot restore into .*file: it is a file, not a directory/, /inside a directory/],
  },
  {
    name: "restore output directory not writable (uid 65534)",
    skip: () => (process.getuid?.() === 0 ? false : "needs root to run the CLI as uid 65534"),
    setup: (d) => {
      mkdirSync(join(d, "locked"), { recursive: true, mode: 0o755 });
      chmodSync(d, 0o755);
      chmodSync(join(d, "locked"), 0o755);
      return {
        args: restore(A.replica, join(d, "locked", "out.db")),
        unchanged: [A.replica, join(d, "locked")],
        absent: [join(d, "locked", "out.db")],
        uid: 65534,
        gid: 65534,
      };
    },
    code: EXIT_CODES.general,
    says: [/permission denied on .*locked/, /owner and mode/],
  },
];

describe("corpus: replicas and restore outputs", () => {
  cases.forEach((c, i) => {
    it(c.name, async (t) => {
      const reason = c.skip?.();
      if (reason) return t.skip(reason);
      await runCase(c, join(dir, `case-${i}`));
    });
  });

  it("junk next to the LTX files is ignored, not restored and not an error", async () => {
    const rep = copyReplica(A.replica, join(dir, "junk"));
    writeFileSync(join(rep, "ltx", "0", "README.txt"), "not ltx");
    writeFileSync(join(rep, "ltx", "0", "0000000000000005-0000000000000005.ltx.tmp"), "half a file");
    writeFileSync(join(rep, "ltx", "0", "000000000000000G-000000000000000G.ltx"), "bad name");
    mkdirSync(join(rep, "ltx", "0", "0000000000000006-0000000000000006.ltx"));
    const out = join(dir, "junk-out.db");
    const r = await runCli(restore(rep, out));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(integrityCheck(out), "ok");
    assert.equal(fileContentHash(out), fileContentHash(A.db));
  });

  it("a garbage -wal beside the database is ignored by capture (as by SQLite)", async () => {
    const d = join(dir, "garbage-wal");
    mkdirSync(d, { recursive: true });
    const db = join(d, "app.db");
    const conn = createWalDb(db);
    conn.prepare("INSERT INTO rows (body, at) VALUES (randomblob(500), 1)").run();
    conn.close();
    writeFileSync(`${db}-wal`, Buffer.alloc(5000, 7));
    const r = new Replicator({ db, replica: new FileReplicaClient(join(d, "rep")), checkpointIntervalMs: 0 });
    await r.start();
    assert.ok(await r.close());
    const want = fileContentHash(db);
    const out = join(d, "out.db");
    const res = await runCli(restore(join(d, "rep"), out));
    assert.equal(res.code, 0, res.stderr);
    assert.equal(fileContentHash(out), want);
  });
});
