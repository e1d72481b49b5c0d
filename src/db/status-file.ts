/**
 * `<meta>/status.json`: the replicating process's view of one database (TXIDs, lag, upload state), written
 * atomically after each capture and upload, so `walship status` and operators' scripts can read it without
 * talking to the process.
 */
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const STATUS_FILE = "status.json";

export async function writeStatusFile(metaDir: string, status: object, now: number): Promise<void> {
  const path = join(metaDir, STATUS_FILE);
  const body = JSON.stringify({ ...status, pid: process.pid, updatedAt: now });
  try {
    await writeFile(`${path}.tmp`, `${body}\n`);
    await rename(`${path}.tmp`, path);
  } catch {
    // Informational only; a full disk is reported by capture itself.
  }
}

export function readStatusFile<T>(metaDir: string): T | null {
  try {
    return JSON.parse(readFileSync(join(metaDir, STATUS_FILE), "utf8")) as T;
  } catch {
    return null;
  }
}
