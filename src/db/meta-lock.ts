/**
 * One walship process per database: a pid file in the meta directory, created exclusively. Two capture
 * processes on one database would hand out the same TXIDs. A lock whose pid is no longer alive (walship
 * was killed) is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fsError, WalshipError } from "../errors.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function acquireMetaLock(metaDir: string, db: string): () => void {
  const path = join(metaDir, "lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx" });
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {}
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw fsError(e, "lock meta directory", path);
      const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
        throw new WalshipError("db_locked", `another walship process (pid ${pid}) is replicating ${db}`, {
          op: "lock meta directory",
          context: { db, path },
          hint: "stop that process first (it takes snapshots itself; see --snapshot-interval)",
        });
      }
      rmSync(path, { force: true });
    }
  }
  throw new WalshipError("db_locked", `could not lock ${path}`, { context: { db, path } });
}

/** acquireMetaLock, creating the meta directory first. */
export function acquireMetaLockIn(metaDir: string, db: string): () => void {
  mkdirSync(metaDir, { recursive: true });
  return acquireMetaLock(metaDir, db);
}
