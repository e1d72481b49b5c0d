/**
 * Corpus: a full disk, on a 2 MiB tmpfs mounted for the test (CI runs as root; elsewhere, or where mount
 * is not permitted, the cases skip and print why). A restore whose output does not fit fails with one
 * line naming the path, leaves neither the output nor its temporary file, and changes no replica file;
 * watch on a database whose filesystem is full says so instead of "disk I/O error".
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EXIT_CODES } from "../../src/errors.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { Replicator } from "../../src/replicator.js";
import { createWalDb, tempDir } from "../helpers/db.js";
import { type CliCase, runCase } from "./cli-case.js";

/** Small enough to fill in a moment, big enough for SQLite to open a database in. */
const TMPFS_SIZE = "2m";
const dir = tempDir("walship-corpus-disk-");
const mnt = join(dir, "tmpfs");
let mountError: string | false = false;

before(() => {
  mkdirSync(mnt, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, "tmpfs", mnt], { stdio: "pipe" });
  } catch (e) {
    mountError = `cannot mount a tmpfs here (${(e as Error).message.split("\n")[0]}); run as root to test a full disk`;
    process.stdout.write(`# disk-full corpus skipped: ${mountError}\n`);
  }
});

after(() => {
  if (!mountError) execFileSync("umount", ["-l", mnt], { stdio: "pipe" });
  rmSync(dir, { recursive: true, force: true });
});

/** A replica of a ~3.6 MiB database: too big for the tmpfs. */
async function bigReplica(d: string): Promise<string> {
  mkdirSync(d, { recursive: true });
  const db = join(d, "big.db");
  const conn = createWalDb(db);
  const ins = conn.prepare("INSERT INTO rows (body, at) VALUES (randomblob(4000), 1)");
  conn.transaction(() => {
    for (let i = 0; i < 900; i++) ins.run();
  })();
  conn.close();
  const rep = join(d, "replica");
  const r = new Replicator({ db, replica: new FileReplicaClient(rep), checkpointIntervalMs: 0 });
  await r.start();
  await r.close();
  return rep;
}

const cases: CliCase[] = [
  {
    name: "restore output on a full disk",
    setup: async (d) => {
      const rep = await bigReplica(d);
      const out = join(mnt, "restored.db");
      return { args: ["restore", rep, "-o", out], unchanged: [rep], absent: [out, `${out}.tmp`] };
    },
    code: EXIT_CODES.general,
    says: [/disk full writing .*tmpfs\/restored\.db/, /free space on that filesystem/],
  },
  {
    name: "watch on a database whose filesystem is full",
    setup: (d) => {
      mkdirSync(d, { recursive: true });
      const db = join(mnt, "app.db");
      const conn = createWalDb(db);
      conn.prepare("INSERT INTO rows (body, at) VALUES (randomblob(100), 1)").run();
      conn.close();
      try {
        writeFileSync(join(mnt, "filler"), Buffer.alloc(4 * 1024 * 1024));
      } catch {
        // ENOSPC: the filesystem is now full, which is the point.
      }
      return {
        args: ["watch", db, join(d, "replica"), "--no-metrics"],
        unchanged: [db, join(d, "replica")],
        cleanup: () => rmSync(join(mnt, "filler"), { force: true }),
      };
    },
    code: EXIT_CODES.general,
    says: [/disk full writing database .*tmpfs\/app\.db/, /free space/],
  },
];

describe("corpus: full disk", () => {
  cases.forEach((c, i) => {
    it(c.name, async (t) => {
      if (mountError) return t.skip(mountError);
      await runCase(c, join(dir, `case-${i}`));
    });
  });
});
