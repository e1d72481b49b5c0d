/**
 * A follower process for crash tests: the same Follower the CLI runs, plus a pause inside every apply
 * while the lock is held, so a kill lands mid-apply far more often than chance would allow. Prints one
 * JSON line per event. Optionally kills itself at a given stage (deterministic crash).
 *   node --import tsx follower-proc.ts <replica-dir> <db> <interval-ms> <max-pause-ms> <seed> [kill-at-stage]
 */

import { Follower } from "../../src/follow/follower.js";
import type { ApplyStage } from "../../src/follow/local-db.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { makeRandom } from "../helpers/random.js";

const [replica, db, intervalArg, pauseArg, seedArg, killAt] = process.argv.slice(2);
const rnd = makeRandom(Number(seedArg));
const maxPause = Number(pauseArg);
const client = new FileReplicaClient(replica!);
const print = (o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? v.toString(16) : v))}\n`);

const f = new Follower({
  replica: client,
  local: db!,
  intervalMs: Number(intervalArg),
  onEvent: (e) => {
    if (e.type === "poll") print({ type: "poll", txid: e.status.txid });
    else if (e.type === "error") print({ type: "error", error: e.error.oneLine() });
    else print(e);
  },
  onApplyStage: async (stage: ApplyStage) => {
    print({ type: "stage", stage });
    if (stage === killAt) process.kill(process.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, rnd() * maxPause));
  },
});
const ac = new AbortController();
process.on("SIGTERM", () => ac.abort());
await f.start(ac.signal);
print({ type: "started", txid: f.status().txid });
await new Promise<void>((resolve) => ac.signal.addEventListener("abort", () => resolve(), { once: true }));
await f.close();
print({ type: "stopped", txid: f.status().txid });
