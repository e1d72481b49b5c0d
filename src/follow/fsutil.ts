/** Durable small-file writes: a rename or unlink is only crash-safe once its directory is fsynced too. */
import { open } from "node:fs/promises";
import { dirname } from "node:path";

export async function fsyncDir(pathInDir: string): Promise<void> {
  const d = await open(dirname(pathInDir), "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
