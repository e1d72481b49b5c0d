/**
 * Request cost of an idle database: after a burst of writes stops, the maintainer runs every simulated
 * second (as the replicator's tick would call it) for three hours. Once the last L0 files have aged out,
 * an hour costs no PUT, GET or DELETE and at most IDLE_LIST_BUDGET LISTs, with or without upload hints.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyRequestCounts, type RequestCounts, type RequestKind } from "../../src/replica/client.js";
import { Sim } from "./sim.js";

const HOUR = 3_600_000;
/** The target from the issue: at most 60 LISTs per idle hour per database. */
const IDLE_LIST_BUDGET = 60;

function delta(after: RequestCounts, before: RequestCounts): RequestCounts {
  const out = emptyRequestCounts();
  for (const k of Object.keys(out) as RequestKind[]) out[k] = after[k] - before[k];
  return out;
}

for (const hints of [true, false]) {
  test(`an idle database costs no PUT and few LISTs per hour (${hints ? "with" : "without"} upload hints)`, async () => {
    const sim = new Sim({ seed: 7, hints });
    try {
      await sim.start();
      for (let i = 0; i < 80; i++) {
        sim.now += 15_000;
        await sim.writeBatch();
        await sim.rep.sync();
        await sim.run();
      }
      const perHour: RequestCounts[] = [];
      for (let hour = 0; hour < 3; hour++) {
        const before = { ...sim.maintClient.requests };
        for (let s = 0; s < HOUR / 1000; s++) {
          sim.now += 1000;
          const r = await sim.run();
          assert.deepEqual(r.errors, []);
        }
        perHour.push(delta(sim.maintClient.requests, before));
      }
      console.log(`idle requests per hour (${hints ? "hints" : "no hints"}): ${JSON.stringify(perHour)}`);
      for (const h of perHour.slice(1)) {
        assert.equal(h.PUT, 0);
        assert.equal(h.GET, 0);
        assert.equal(h.DELETE, 0);
        assert.ok(h.LIST <= IDLE_LIST_BUDGET, `${h.LIST} LISTs in an idle hour`);
      }
      assert.ok(
        perHour[0]!.LIST <= IDLE_LIST_BUDGET + 20,
        `${perHour[0]!.LIST} LISTs in the first idle hour`,
      );
    } finally {
      await sim.close();
    }
  });
}
