/**
 * Local staging of level-0 LTX files in the meta directory beside the database
 * (`<dir>/.<name>-walship/ltx/0/<min>-<max>.ltx`). Capture writes here and the uploader reads from here,
 * so slow storage never blocks capture and a restart resumes what was not yet uploaded.
 */
import { mkdirSync } from "node:fs";
import { open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsError } from "../errors.js";
import { formatLtxFilename, parseLtxFilename } from "../ltx/filename.js";
import { coalesce } from "./coalesce.js";

export interface StagedFile {
  minTXID: bigint;
  maxTXID: bigint;
  path: string;
}

export function defaultMetaDir(dbPath: string): string {
  return join(dirname(dbPath), `.${basename(dbPath)}-walship`);
}

export class Staging {
  readonly dir: string;

  constructor(readonly metaDir: string) {
    this.dir = join(metaDir, "ltx", "0");
  }

  ensure(): void {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw fsError(e, "create meta directory", this.dir);
    }
  }

  pathFor(min: bigint, max: bigint): string {
    return join(this.dir, formatLtxFilename(min, max));
  }

  /**
   * Removes temp files a crash left behind: half-written staged files, and snapshot images encoded into
   * the meta directory (database-sized: one leaked per crash during a snapshot would fill the disk). Only
   * at start, under the meta lock, while nothing else writes here.
   */
  async cleanTemp(): Promise<void> {
    for (const dir of [this.dir, this.metaDir]) {
      let names: string[] = [];
      try {
        names = await readdir(dir);
      } catch {}
      for (const name of names) {
        if (name.endsWith(".tmp") && (dir === this.dir || name.startsWith("snapshot-"))) {
          await rm(join(dir, name), { force: true });
        }
      }
    }
  }

  /** Staged files in TXID order. */
  async list(): Promise<StagedFile[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw fsError(e, "list staging", this.dir);
    }
    const out: StagedFile[] = [];
    for (const name of names) {
      const p = parseLtxFilename(name);
      if (p) out.push({ minTXID: p.minTXID, maxTXID: p.maxTXID, path: join(this.dir, name) });
    }
    out.sort((a, b) => (a.minTXID < b.minTXID ? -1 : a.minTXID > b.minTXID ? 1 : 0));
    return out;
  }

  /** Write chunks to <name>.tmp, fsync, rename, fsync the directory: a staged file is whole or absent. */
  /**
   * Writes the file; `keep` is asked after the bytes are durable and before the rename makes the file
   * visible to the uploader: returning false discards it (null is returned). A staged file, once visible,
   * is final: the uploader may ship it at any moment.
   */
  async write(
    min: bigint,
    max: bigint,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    keep: () => Promise<boolean> = async () => true,
  ): Promise<string | null> {
    const final = this.pathFor(min, max);
    const tmp = `${final}.tmp`;
    try {
      const fh = await open(tmp, "w");
      try {
        for await (const c of coalesce(chunks)) await fh.write(c);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (!(await keep())) {
        await rm(tmp, { force: true });
        return null;
      }
      await rename(tmp, final);
      const d = await open(this.dir, "r");
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => {});
      throw fsError(e, "write staged LTX file", tmp);
    }
    return final;
  }

  async remove(f: StagedFile): Promise<void> {
    await rm(f.path, { force: true });
  }

  async size(f: StagedFile): Promise<number> {
    return (await stat(f.path)).size;
  }
}
