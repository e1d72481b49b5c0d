/**
 * Races: the app runs its own checkpoints, in every mode, while walship replicates and checkpoints too.
 * walship's read transaction pins the WAL, so FULL/RESTART/TRUNCATE by the app mostly come back busy;
 * PASSIVE ones copy frames under walship's feet; in between, walship's own checkpoint releases its read
 * mark and the app's next write may restart the WAL. Whatever interleaving happens, the replica must end
 * equal to the source, and every acknowledged TXID must restore to a clean state.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../helpers/db.js";
import { makeRandom } from "../helpers/random.js";
import { assertReplicaCorrect, newDb, startApp, startWalship } from "./harness.js";

const dir = tempDir("walship-races-ckpt-");
after(() => rmSync(dir, { recursive: true, force: true }));
/** The app's busy timeout (ms): short, so its blocked FULL/RESTART/TRUNCATE checkpoints give up quickly. */
const APP_BUSY_MS = 100;
const MODES = ["PASSIVE", "FULL", "RESTART", "TRUNCATE"] as const;

async function checkpointRace(name: string, pick: (i: number) => (typeof MODES)[number]): Promise<void> {
  const work = join(dir, name);
  const db = newDb(work);
  const w = await startWalship(db, join(work, "replica"));
  const app = startApp(db, APP_BUSY_MS);
  try {
    for (let i = 0; i < 24; i++) {
      await app.ok(`w ${1 + (i % 5)}`);
      // A busy answer is the app's checkpoint losing to walship's reader: allowed, not an error.
      await app.ok(`cp ${pick(i)}`);
      if (i % 3 === 2) await w.sync();
    }
    await app.exit();
    await w.sync();
  } finally {
    await app.kill().catch(() => {});
    await w.rep.close();
  }
  await assertReplicaCorrect(db, join(work, "replica"), w.acked, work);
}

describe("races: the app's own checkpoints", () => {
  for (const mode of MODES) {
    it(`wal_checkpoint(${mode}) between writes`, () => checkpointRace(mode.toLowerCase(), () => mode));
  }
  it("every mode, in a seeded random order", () => {
    const seed = Number(process.env.WALSHIP_SEED ?? 4242);
    const rnd = makeRandom(seed);
    return checkpointRace(`mixed-${seed}`, () => MODES[Math.floor(rnd() * MODES.length)]!);
  });
});
