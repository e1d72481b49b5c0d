/**
 * The lease wired into replication (the Replicator and `walship watch`): a second writer on the same
 * replica path is refused naming the holder and changes nothing; a killed watch is replaced at once; a
 * lost lease stops uploads with a fatal error. Skips with its reason until src/replicator.ts takes the
 * lease (the wiring diff in docs/reliability.md).
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isWalshipError } from "../../src/errors.js";
import type { LeaseOptions } from "../../src/lease/index.js";
import { createLease } from "../../src/lease/index.js";
import { FileReplicaClient } from "../../src/replica/file.js";
import { type ReplicaEvent, Replicator, type ReplicatorOptions } from "../../src/replicator.js";
import { fileBackend, s3Backend } from "../helpers/backends.js";
import { runCli, startCli, waitFor } from "../helpers/cli.js";
import { createWalDb, fileContentHash, tempDir } from "../helpers/db.js";
import { ManualClock } from "./backends.js";

/** Options with the lease setting the wiring adds (typed here so this file compiles before it lands). */
function withLease(o: ReplicatorOptions & { lease?: boolean | LeaseOptions }): ReplicatorOptions {
  return o;
}

const wired = Object.getOwnPropertyDescriptor(Replicator.prototype, "lease") !== undefined;
const SKIP = wired
  ? false
  : "src/replicator.ts does not take the lease yet (wiring pending: docs/reliability.md)";
const dir = tempDir("walship-lease-rep-");
after(() => rmSync(dir, { recursive: true, force: true }));

function newDb(name: string): string {
  const p = join(dir, `${name}.db`);
  const db = createWalDb(p);
  db.prepare("INSERT INTO rows (body, at) VALUES (randomblob(100), 1)").run();
  db.close();
  return p;
}

function statusOf(db: string): { pid: number; replicaTXID: string; txid: string } | null {
  try {
    return JSON.parse(readFileSync(join(db, "..", `.${db.split("/").pop()}-walship`, "status.json"), "utf8"));
  } catch {
    return null;
  }
}

describe("lease in replication", { skip: SKIP }, () => {
  it("a second Replicator on the same replica path is refused, naming the holder", async () => {
    const replica = join(dir, "shared");
    const a = new Replicator(
      withLease({ db: newDb("a"), replica: new FileReplicaClient(replica), lease: { owner: "a-host:1" } }),
    );
    await a.start();
    const b = new Replicator(
      withLease({ db: newDb("b"), replica: new FileReplicaClient(replica), lease: { owner: "b-host:2" } }),
    );
    await assert.rejects(
      b.start(),
      (e) => isWalshipError(e, "replica_conflict") && /held by a-host:1/.test(e.message),
    );
    assert.ok(await a.close());
    // Released on close: the other writer can start now.
    const c = new Replicator({ db: newDb("c"), replica: new FileReplicaClient(join(dir, "shared-2")) });
    await c.start();
    assert.ok(await c.close());
  });

  it("a lost lease stops uploads with one fatal error event", async () => {
    const replica = join(dir, "stolen");
    const events: ReplicaEvent[] = [];
    const db = newDb("victim");
    const a = new Replicator(
      withLease({
        db,
        replica: new FileReplicaClient(replica),
        lease: { owner: "victim:1" },
        onEvent: (e) => events.push(e),
      }),
    );
    await a.start();
    const thief = createLease(new FileReplicaClient(replica), {
      owner: "thief:2",
      clock: new ManualClock(Date.now() + 60_000),
    });
    await thief.acquire();
    await (a as unknown as { keeper: { renewNow(): Promise<void> } }).keeper.renewNow();
    const fatal = events.filter((e) => e.type === "error" && e.fatal);
    assert.equal(fatal.length, 1);
    assert.match(fatal[0]!.type === "error" ? fatal[0]!.error.message : "", /lost the lease .* thief:2/);
    const before = await new FileReplicaClient(replica).list(0);
    const w = createWalDb(db);
    w.prepare("INSERT INTO rows (body, at) VALUES (randomblob(100), 2)").run();
    w.close();
    await assert.rejects(a.sync({ timeoutMs: 2_000 }), (e) => isWalshipError(e, "replica_conflict"));
    assert.equal(await a.close({ deadlineMs: 1_000 }), false);
    assert.deepEqual(await new FileReplicaClient(replica).list(0), before, "nothing uploaded after the loss");
    assert.equal(thief.holder?.owner, "thief:2");
    await thief.release();
  });

  for (const kind of ["file", "s3"] as const) {
    it(`${kind}: a second watch exits with the holder named; a killed watch is replaced at once`, async (t) => {
      const b = kind === "file" ? fileBackend(join(dir, "cli-file")) : await s3Backend();
      if ("skip" in b) return t.skip(b.skip);
      try {
        const url = b.url("cli");
        const db1 = newDb(`${kind}-one`);
        const db2 = newDb(`${kind}-two`);
        const first = startCli(["watch", db1, url, "--no-metrics"], b.env);
        await waitFor(() => statusOf(db1)?.pid === first.child.pid, 20_000, "first watch");
        const second = await runCli(["watch", db2, url, "--no-metrics"], b.env);
        assert.equal(second.code, 1, second.stderr);
        const last = second.stderr.trim().split("\n").pop() ?? "";
        assert.match(
          last,
          new RegExp(`^walship watch: acquire lease: .* is held by [^ ]+:${first.child.pid} until`),
        );
        assert.match(last, /\(hint: another walship is replicating to this path/);
        first.child.kill("SIGKILL");
        await first.done;
        const third = startCli(["watch", db1, url, "--no-metrics"], b.env);
        await waitFor(() => statusOf(db1)?.pid === third.child.pid, 20_000, "watch after the kill");
        third.child.kill("SIGTERM");
        assert.equal((await third.done).code, 0);
        const out = join(dir, `${kind}-restored.db`);
        const r = await runCli(["restore", url, "-o", out], b.env);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fileContentHash(out), fileContentHash(db1));
      } finally {
        await b.stop();
      }
    });
  }
});
