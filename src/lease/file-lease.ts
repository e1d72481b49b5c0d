/**
 * The lease on a directory replica: `<root>/lock.json`, the same record as on S3.
 *
 * - create: the record is written to a temp file, fsynced, and hard-linked to lock.json; link() fails with
 *   EEXIST like an exclusive open, but the lock file appears complete or not at all (a crash between
 *   `open(wx)` and `write` would leave an empty lock nobody could read). Filesystems without hard links
 *   fall back to `open(wx)`.
 * - replace / remove (renew, takeover, release) run under a short mutex, `lock.json.mutex` created with
 *   `wx`: re-read and compare with the version (the whole text), write a temp file, rename it over
 *   lock.json, re-read to confirm. Two contenders that both saw an expired record cannot both take over.
 *   A mutex older than MUTEX_STALE_MS belongs to a process that died inside those few milliseconds.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsError, isWalshipError, WalshipError } from "../errors.js";
import type { LeaseStore, StoredLease } from "./lease.js";
import { LEASE_OBJECT } from "./s3-lease.js";

/** A mutex this old (ms) is abandoned: the critical section is a read, a write and a rename. */
export const MUTEX_STALE_MS = 10_000;
/** How long (ms) to wait for another process's mutex before reporting a retryable conflict. */
const MUTEX_WAIT_MS = 2_000;
/** Poll interval (ms) while the mutex is held by another process. */
const MUTEX_POLL_MS = 10;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function writeSynced(path: string, text: string, flag: "w" | "wx"): Promise<void> {
  const fh = await open(path, flag, 0o644);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r").catch(() => null);
  try {
    await fh?.sync();
  } catch {
    // Some filesystems cannot fsync a directory; the rename is as durable as they allow.
  } finally {
    await fh?.close();
  }
}

export class FileLeaseStore implements LeaseStore {
  readonly path: string;
  readonly location: string;
  private readonly mutex: string;

  constructor(private readonly root: string) {
    this.path = join(root, LEASE_OBJECT);
    this.location = this.path;
    this.mutex = `${this.path}.mutex`;
  }

  private tmp(): string {
    return `${this.path}.${randomBytes(6).toString("hex")}.tmp`;
  }

  private fail(e: unknown, op: string, path = this.path): WalshipError {
    if (isWalshipError(e)) return e;
    const base = fsError(e, op, path);
    return new WalshipError(base.code === "internal" ? "storage" : base.code, base.message, {
      op,
      context: base.context,
      hint: base.hint,
      retryable: base.retryable,
      cause: e,
    });
  }

  async read(): Promise<StoredLease | null> {
    try {
      const text = await readFile(this.path, "utf8");
      return { text, version: text };
    } catch (e) {
      if (errno(e) === "ENOENT") return null;
      throw this.fail(e, "read lease");
    }
  }

  async create(text: string): Promise<string | null> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (e) {
      throw this.fail(e, "create lease", this.root);
    }
    const tmp = this.tmp();
    try {
      await writeSynced(tmp, text, "wx");
      try {
        await link(tmp, this.path);
      } catch (e) {
        if (errno(e) === "EEXIST") return null;
        if (errno(e) !== "EPERM" && errno(e) !== "ENOTSUP" && errno(e) !== "EOPNOTSUPP") throw e;
        try {
          await writeSynced(this.path, text, "wx");
        } catch (e2) {
          if (errno(e2) === "EEXIST") return null;
          throw e2;
        }
      }
      await fsyncDir(this.root);
      return text;
    } catch (e) {
      throw this.fail(e, "create lease");
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  async replace(text: string, version: string): Promise<string | null> {
    return this.locked(async () => {
      const cur = await this.read();
      if (cur === null || cur.version !== version) return null;
      const tmp = this.tmp();
      try {
        await writeSynced(tmp, text, "wx");
        await rename(tmp, this.path);
        await fsyncDir(this.root);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw this.fail(e, "write lease");
      }
      const confirm = await this.read();
      return confirm?.version === text ? text : null;
    });
  }

  async remove(version: string): Promise<boolean> {
    return this.locked(async () => {
      const cur = await this.read();
      if (cur === null) return true;
      if (cur.version !== version) return false;
      try {
        await unlink(this.path);
      } catch (e) {
        if (errno(e) !== "ENOENT") throw this.fail(e, "release lease");
      }
      return true;
    });
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + MUTEX_WAIT_MS;
    for (;;) {
      try {
        await writeSynced(this.mutex, `${process.pid}\n`, "wx");
        break;
      } catch (e) {
        if (errno(e) !== "EEXIST") throw this.fail(e, "lock lease", this.mutex);
      }
      const st = await stat(this.mutex).catch(() => null);
      if (st && Date.now() - st.mtimeMs > MUTEX_STALE_MS) {
        await unlink(this.mutex).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new WalshipError("replica_conflict", `lease mutex ${this.mutex} is busy`, {
          op: "lock lease",
          context: { path: this.mutex },
          hint: `another process is changing the lease; if none is, delete ${this.mutex}`,
          retryable: true,
        });
      }
      await new Promise((r) => setTimeout(r, MUTEX_POLL_MS));
    }
    try {
      return await fn();
    } finally {
      await unlink(this.mutex).catch(() => {});
    }
  }
}
