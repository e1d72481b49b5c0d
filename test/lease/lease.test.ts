/**
 * The single-writer lease against a directory and a real S3 server (versitygw): a second holder is refused
 * and named, an expired lease is taken over, release frees it at once, renewal keeps it, a killed holder on
 * this machine is taken over without waiting, racing contenders produce exactly one winner, and the record
 * is Litestream's format.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isWalshipError, type WalshipError } from "../../src/errors.js";
import { createLease, LeaseGuardedClient, LeaseKeeper } from "../../src/lease/index.js";
import { StoreLease } from "../../src/lease/lease.js";
import { parseRecord } from "../../src/lease/record.js";
import { repoRoot, waitFor } from "../helpers/cli.js";
import { tempDir } from "../helpers/db.js";
import { startS3Server } from "../helpers/s3-server.js";
import { fileLeaseBackend, type LeaseBackend, ManualClock, s3LeaseBackend } from "./backends.js";

const HOLDER = join(repoRoot, "test", "lease", "holder.ts");
const TTL = 30_000;
const dir = tempDir("walship-lease-");
after(() => rmSync(dir, { recursive: true, force: true }));

function conflict(e: unknown): e is WalshipError {
  return isWalshipError(e, "replica_conflict");
}

function leaseSuite(b: LeaseBackend): void {
  it(`${b.name}: a second holder is refused with the holder named`, async () => {
    const { client } = b.fresh();
    const a = createLease(client, { owner: "host-a:111" });
    await a.acquire();
    assert.equal(a.holder?.owner, "host-a:111");
    const second = createLease(client, { owner: "host-b:222" });
    await assert.rejects(second.acquire(), (e) => {
      assert.ok(conflict(e), String(e));
      assert.match(e.message, /is held by host-a:111 until \d{4}-\d\d-\d\dT.*Z \(generation 1\)/);
      assert.match(e.message, new RegExp(client.location.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      assert.match(e.hint ?? "", /stop it/);
      return true;
    });
    assert.equal(second.holder, null);
    await a.release();
  });

  it(`${b.name}: the record is Litestream's {"generation","expires_at","owner"}`, async () => {
    const { store, client } = b.fresh();
    const clock = new ManualClock(Date.parse("2030-01-02T03:04:05.000Z"));
    const a = createLease(client, { owner: "box:42", clock, ttlMs: TTL });
    await a.acquire();
    const cur = await store.read();
    const json = JSON.parse(cur!.text) as Record<string, unknown>;
    assert.equal(json.generation, 1);
    assert.equal(json.owner, "box:42");
    assert.equal(json.expires_at, "2030-01-02T03:04:35.000Z");
    await a.release();
    assert.equal(await store.read(), null, "release removes the object");
  });

  it(`${b.name}: an expired lease is taken over, and the old holder learns it lost`, async () => {
    const { client } = b.fresh();
    const clockA = new ManualClock();
    const a = createLease(client, { owner: "old:1", clock: clockA, ttlMs: TTL });
    await a.acquire();
    const clockB = new ManualClock(clockA.t + TTL + 1);
    const bLease = createLease(client, { owner: "new:2", clock: clockB, ttlMs: TTL });
    await bLease.acquire();
    assert.equal(bLease.holder?.generation, 2, "a takeover bumps the generation");
    await assert.rejects(a.renew(), (e) => conflict(e) && /lost the lease .* to new:2/.test(e.message));
    assert.equal(a.holder, null);
    await a.release(); // nothing held: a no-op that must not remove the successor's record
    const c = createLease(client, { owner: "third:3" });
    await assert.rejects(c.acquire(), (e) => conflict(e) && /held by new:2/.test(e.message));
    await bLease.release();
  });

  it(`${b.name}: release lets another writer acquire at once`, async () => {
    const { client } = b.fresh();
    const a = createLease(client, { owner: "a:1" });
    await a.acquire();
    await a.release();
    const c = createLease(client, { owner: "c:3" });
    await c.acquire();
    assert.equal(c.holder?.owner, "c:3");
    assert.equal(c.holder?.generation, 1, "a released path starts over");
    await c.release();
  });

  it(`${b.name}: renewal keeps the lease past the first TTL`, async () => {
    const { client } = b.fresh();
    const clock = new ManualClock();
    const a = createLease(client, { owner: "a:1", clock, ttlMs: TTL });
    await a.acquire();
    for (let i = 0; i < 4; i++) {
      clock.t += TTL / 3;
      await a.renew();
    }
    // 4/3 TTL after acquiring: without renewals this contender would win.
    const late = createLease(client, { owner: "late:9", clock: new ManualClock(clock.t + 1) });
    await assert.rejects(late.acquire(), (e) => conflict(e) && /held by a:1/.test(e.message));
    assert.equal(a.holder?.generation, 1, "renewal keeps the generation");
    await a.release();
  });

  it(`${b.name}: the same Lease re-acquires its own record`, async () => {
    const { client } = b.fresh();
    const a = createLease(client, { owner: "a:1" });
    await a.acquire();
    await a.acquire();
    assert.equal(a.holder?.generation, 1);
    await a.release();
  });

  it(`${b.name}: racing contenders produce exactly one holder`, async () => {
    const { client } = b.fresh();
    const leases = Array.from({ length: 6 }, (_, i) => createLease(client, { owner: `racer:${i}` }));
    const results = await Promise.allSettled(leases.map((l) => l.acquire()));
    const won = results.filter((r) => r.status === "fulfilled").length;
    assert.equal(won, 1, JSON.stringify(results.map((r) => r.status)));
    for (const r of results) if (r.status === "rejected") assert.ok(conflict(r.reason), String(r.reason));
    for (const l of leases) await l.release();
  });

  it(`${b.name}: racing takeovers of an expired lease produce exactly one holder`, async () => {
    const { client } = b.fresh();
    const old = createLease(client, { owner: "old:0", clock: new ManualClock(Date.now() - 2 * TTL) });
    await old.acquire();
    const leases = Array.from({ length: 5 }, (_, i) => createLease(client, { owner: `taker:${i}` }));
    const results = await Promise.allSettled(leases.map((l) => l.acquire()));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const l of leases) await l.release();
  });

  it(`${b.name}: a holder killed on this machine is taken over before its TTL`, async () => {
    const { client, target } = b.fresh();
    const child = spawn(process.execPath, ["--import", "tsx", HOLDER, target, String(TTL)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise((r) => child.once("exit", r));
    try {
      await waitFor(() => out.includes("held "), 20_000, `holder to start: ${out}`);
      const rec = parseRecord(out.slice(out.indexOf("held ") + 5).split("\n")[0]!);
      assert.equal(rec?.owner.endsWith(`:${child.pid}`), true);
      const live = createLease(client, { owner: "me:1" });
      await assert.rejects(live.acquire(), (e) => conflict(e) && e.message.includes(`:${child.pid}`));
      child.kill("SIGKILL");
      await exited;
      await live.acquire();
      assert.equal(live.holder?.generation, 2);
      await live.release();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it(`${b.name}: waitForExpiry waits out a live holder instead of failing`, async () => {
    const { client } = b.fresh();
    const clock = new ManualClock();
    const a = createLease(client, { owner: "a:1", clock: new ManualClock(clock.t), ttlMs: TTL });
    await a.acquire();
    const patient = createLease(client, { owner: "p:2", clock, ttlMs: TTL, waitForExpiry: true });
    await patient.acquire(); // ManualClock.sleep advances time past a's expiry
    assert.equal(patient.holder?.owner, "p:2");
    assert.ok(clock.t > Date.parse(a.holder!.expires_at), "it waited until the expiry");
    await patient.release();
  });

  it(`${b.name}: a lost lease stops guarded writes and is reported once`, async () => {
    const { client } = b.fresh();
    const clockA = new ManualClock();
    const a = createLease(client, { owner: "a:1", clock: clockA, ttlMs: TTL });
    await a.acquire();
    const lost: WalshipError[] = [];
    const keeper = new LeaseKeeper(a, (e) => lost.push(e), clockA);
    const guarded = new LeaseGuardedClient(client, keeper);
    await guarded.write(0, 1n, 1n, new Uint8Array([1, 2, 3]), { timestamp: 1 });
    const thief = createLease(client, { owner: "thief:2", clock: new ManualClock(clockA.t + TTL + 1) });
    await thief.acquire();
    await keeper.renewNow();
    await keeper.renewNow();
    assert.equal(lost.length, 1);
    assert.match(lost[0]!.message, /lost the lease .* to thief:2/);
    await assert.rejects(guarded.write(0, 2n, 2n, new Uint8Array([4]), { timestamp: 2 }), conflict);
    await assert.rejects(guarded.delete([{ level: 0, minTXID: 1n, maxTXID: 1n }]), conflict);
    assert.equal((await client.list(0)).length, 1, "the refused write did not reach the replica");
    await keeper.stop();
    assert.equal((await thief.holder)?.owner, "thief:2");
    await thief.release();
  });

  it(`${b.name}: writes stop before the lease runs out when renewals fail`, async () => {
    const { client } = b.fresh();
    const clock = new ManualClock();
    const a = createLease(client, { owner: "a:1", clock, ttlMs: TTL });
    await a.acquire();
    const lost: WalshipError[] = [];
    const keeper = new LeaseKeeper(a, (e) => lost.push(e), clock);
    keeper.guard("write");
    clock.t += TTL - 1_000; // inside the write margin, renewals (not run here) have failed
    assert.throws(
      () => keeper.guard("write"),
      (e) => conflict(e) && e.retryable,
    );
    assert.equal(lost.length, 0, "not lost yet: a renewal may still succeed");
    clock.t += 1_000;
    assert.throws(
      () => keeper.guard("write"),
      (e) => conflict(e) && e.retryable,
      "expired: writes are held back",
    );
    assert.equal(lost.length, 0, "expired is not lost: nobody took the record");
    // The store comes back and nobody took over: our conditional renewal succeeds and writes resume.
    await keeper.renewNow();
    keeper.guard("write");
    assert.equal(lost.length, 0);
    await keeper.stop();
  });

  it(`${b.name}: an idle writer stops renewing; its next write renews first, or finds it was taken`, async () => {
    const { client, store } = b.fresh();
    const ttl = 600;
    const a = createLease(client, { owner: "idle:1", ttlMs: ttl });
    await a.acquire();
    const lost: WalshipError[] = [];
    const keeper = new LeaseKeeper(a, (e) => lost.push(e), undefined, 300);
    keeper.start();
    const guarded = new LeaseGuardedClient(client, keeper);
    await guarded.write(0, 1n, 1n, new Uint8Array([1]), { timestamp: 1 });
    // Each renewal rewrites the record with a new expiry.
    const record = async () => (await store.read())?.text;
    const before = await record();
    await new Promise((r) => setTimeout(r, 700)); // renewals (every 200 ms) stop 300 ms after the write
    const settled = await record();
    assert.notEqual(settled, before, "renewals ran while the writer was active");
    const puts = client.requests.PUT;
    await new Promise((r) => setTimeout(r, 900)); // idle: the lease lapses, no request at all
    assert.equal(await record(), settled, "no renewal while idle");
    assert.equal(client.requests.PUT, puts);
    // The next write renews first (nobody took the record), then goes through.
    await guarded.write(0, 2n, 2n, new Uint8Array([2]), { timestamp: 2 });
    assert.equal(lost.length, 0);
    assert.deepEqual(
      (await client.list(0)).map((f) => f.maxTXID),
      [1n, 2n],
    );
    // Idle again, and meanwhile another writer takes the lapsed lease: the next write learns it lost.
    await new Promise((r) => setTimeout(r, 300 + ttl + 300));
    const thief = createLease(client, { owner: "thief:2", ttlMs: 30_000 });
    await thief.acquire();
    await assert.rejects(
      guarded.write(0, 3n, 3n, new Uint8Array([3]), { timestamp: 3 }),
      (e) => conflict(e) && !e.retryable && /thief:2/.test(e.message),
    );
    assert.equal(lost.length, 1);
    assert.equal((await client.list(0)).length, 2, "the refused write did not reach the replica");
    await keeper.stop();
    await thief.release();
  });

  it(`${b.name}: an object that is not a lease record is reported, not overwritten`, async () => {
    const { client, store } = b.fresh();
    assert.ok(await store.create("not json at all"));
    const a = createLease(client, { owner: "a:1" });
    await assert.rejects(a.acquire(), (e) => conflict(e) && /is not a lease record/.test(e.message));
    assert.equal((await store.read())?.text, "not json at all");
  });
}

describe("lease: file backend", () => {
  leaseSuite(fileLeaseBackend(join(dir, "file")));

  it("file: a partial lock file cannot appear (created complete via link)", async () => {
    const root = join(dir, "file-link");
    const a = createLease(new (await import("../../src/replica/file.js")).FileReplicaClient(root), {
      owner: "a:1",
    });
    await a.acquire();
    const text = readFileSync(join(root, "lock.json"), "utf8");
    assert.equal(parseRecord(text)?.owner, "a:1");
    await a.release();
  });

  it("file: a stale mutex left by a crashed process does not block forever", async () => {
    const root = join(dir, "file-mutex");
    const { FileReplicaClient } = await import("../../src/replica/file.js");
    const a = createLease(new FileReplicaClient(root), { owner: "a:1" });
    await a.acquire();
    writeFileSync(join(root, "lock.json.mutex"), "999999\n");
    const old = new Date(Date.now() - 60_000);
    (await import("node:fs")).utimesSync(join(root, "lock.json.mutex"), old, old);
    await a.renew();
    await a.release();
  });
});

const server = await startS3Server();
if ("skip" in server) {
  describe("lease: s3 backend", () => {
    it("needs versitygw", (t) => t.skip(server.skip));
  });
} else {
  describe("lease: s3 backend (versitygw)", () => {
    after(() => server.stop());
    leaseSuite(s3LeaseBackend(server));
  });
}

it("StoreLease rejects a non-positive TTL", () => {
  assert.throws(
    () => new StoreLease({} as never, { ttlMs: 0 }),
    (e) => isWalshipError(e, "usage"),
  );
});
