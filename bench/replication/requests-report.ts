/**
 * Tables for the request-budget run (requests.ts): the console table, the goals of issue 5 and the
 * section of bench/results/summary.md, from result files of kind walship-bench/requests.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BudgetCounts, BudgetDbResult, DbRole, RequestBudgetResult } from "./requests-types.js";

/** Issue 5: an idle database costs no PUT and at most this many LISTs an hour. */
export const IDLE_LIST_BUDGET = 60;
/** Issue 5: at least this many times fewer LISTs than Litestream v0.5. */
export const LIST_FACTOR = 5;

export function loadBudgetResults(dir: string): RequestBudgetResult[] {
  const out: RequestBudgetResult[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".json")) continue;
    try {
      const j = JSON.parse(readFileSync(join(dir, f), "utf8")) as RequestBudgetResult;
      if (j.kind === "walship-bench/requests") out.push(j);
    } catch {}
  }
  return out;
}

function n(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function counts(c: BudgetCounts): string {
  return `${n(c.PUT)} | ${n(c.GET)} | ${n(c.LIST)} | ${n(c.DELETE)} | ${n(c.HEAD)} | ${n(c.other)}`;
}

function find(r: RequestBudgetResult, tool: string, role: DbRole): BudgetDbResult | undefined {
  return r.dbs.find((d) => d.tool === tool && d.role === role);
}

function mins(ms: number): string {
  return `${Math.round(ms / 60_000)} min`;
}

/** "360 (lease 360, LTX 0)": where a tool's PUTs went. */
function putSplit(d: BudgetDbResult): string {
  const c = d.perHourAfterWarmupByClass;
  const parts = [`LTX ${n(c.ltx.PUT)}`];
  if (c.lease.PUT) parts.unshift(`lease ${n(c.lease.PUT)}`);
  if (c.other.PUT) parts.push(`other ${n(c.other.PUT)}`);
  return `${n(d.perHourAfterWarmup.PUT)} (${parts.join(", ")})`;
}

export interface BudgetGoal {
  goal: string;
  walship: string;
  litestream: string;
  met: boolean | null;
}

/** The request-budget goals of issue 5, on the rates after the warm-up (the steady state). */
export function budgetGoals(r: RequestBudgetResult): BudgetGoal[] {
  const wi = find(r, "walship", "idle");
  const li = find(r, "litestream", "idle");
  const wb = find(r, "walship", "busy");
  const lb = find(r, "litestream", "busy");
  const rows: BudgetGoal[] = [];
  const none = "not measured";
  rows.push({
    goal: "Idle database: 0 PUT per hour",
    walship: wi ? `${putSplit(wi)} PUT/h` : none,
    litestream: li ? `${n(li.perHourAfterWarmup.PUT)} PUT/h` : none,
    met: wi ? wi.perHourAfterWarmup.PUT === 0 : null,
  });
  rows.push({
    goal: `Idle database: at most ${IDLE_LIST_BUDGET} LIST per hour`,
    walship: wi ? `${n(wi.perHourAfterWarmup.LIST)} LIST/h` : none,
    litestream: li ? `${n(li.perHourAfterWarmup.LIST)} LIST/h` : none,
    met: wi ? wi.perHourAfterWarmup.LIST <= IDLE_LIST_BUDGET : null,
  });
  for (const [role, w, l] of [
    ["idle", wi, li],
    ["busy", wb, lb],
  ] as const) {
    const ratio = w && l ? l.perHourAfterWarmup.LIST / Math.max(w.perHourAfterWarmup.LIST, 1e-9) : null;
    rows.push({
      goal: `${role === "idle" ? "Idle database" : `Database at ${r.rate} writes/s`}: at least ${LIST_FACTOR}x fewer LISTs than Litestream`,
      walship: w ? `${n(w.perHourAfterWarmup.LIST)} LIST/h` : none,
      litestream: l
        ? `${n(l.perHourAfterWarmup.LIST)} LIST/h (${ratio === null ? "?" : ratio > 1e6 ? "walship none" : `${ratio.toFixed(1)}x walship's`})`
        : none,
      met: ratio === null ? null : ratio >= LIST_FACTOR,
    });
  }
  return rows;
}

const KIND_HEAD = "PUT | GET | LIST | DELETE | HEAD | other";
/** The same inside one table cell. */
const KIND_CELL = "PUT / GET / LIST / DELETE / HEAD / other";

/** Markdown lines describing one run: goals, then every (tool, database) at both rates. */
export function budgetTable(r: RequestBudgetResult): string[] {
  const lines = [
    `Run \`${r.name}\`: ${r.description}. Window ${mins(r.windowMs)} of wall-clock time from ${r.windowStart.slice(0, 16).replace("T", " ")} UTC, both tools at once; "after warm-up" leaves out the first ${mins(r.warmupMs)} (start-up data still moving through L1 and L2). Busy databases: the writer achieved ${r.writer.achievedTxPerS} of ${r.writer.targetTxPerS} tx/s in all.`,
    "",
    "| goal (rates after warm-up) | walship | Litestream v0.5.17 | met |",
    "|---|---|---|---|",
    ...budgetGoals(r).map(
      (g) =>
        `| ${g.goal} | ${g.walship} | ${g.litestream} | ${g.met === null ? "not measured" : g.met ? "met" : "**not met**"} |`,
    ),
    "",
    `Requests per hour, counted at a proxy per tool and database (PUT includes multipart parts; DELETE includes batch deletes):`,
    "",
    `| tool | database | rate | ${KIND_HEAD} |`,
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const d of r.dbs) {
    lines.push(`| ${d.tool} | ${d.role} | whole window, per hour | ${counts(d.perHour)} |`);
    lines.push(`| ${d.tool} | ${d.role} | after warm-up, per hour | ${counts(d.perHourAfterWarmup)} |`);
    for (const c of ["lease", "other"] as const) {
      const v = d.perHourAfterWarmupByClass[c];
      if (Object.values(v).some((x) => x !== 0))
        lines.push(
          `| ${d.tool} | ${d.role} | of which ${c === "lease" ? "the lease (lock.json)" : "no LTX or lease key in the URL (batch deletes, start-up probe)"} | ${counts(v)} |`,
        );
    }
  }
  lines.push(
    "",
    `| tool | database | start-up (${KIND_CELL}) | shutdown | proxy errors (HTTP status >= 300) | restore check |`,
    "|---|---|---|---|---|---|",
    ...r.dbs.map(
      (d) =>
        `| ${d.tool} | ${d.role} | ${counts(d.startup).replaceAll(" | ", " / ")} | ${counts(d.drain).replaceAll(" | ", " / ")} | ${JSON.stringify(d.errors)} | ${d.loss ? (d.loss.missingRows || d.loss.restoreFailures ? `**${d.loss.missingRows} rows missing**` : `whole (${d.loss.committedRows} rows)`) : "not checked"} |`,
    ),
  );
  const self = r.dbs.filter((d) => d.selfCount);
  if (self.length) {
    lines.push(
      "",
      `walship's own counters (walship_storage_requests_total on /metrics, since start) next to its proxies at the end of the window (${KIND_CELL}):`,
      "",
      "| database | walship counted | proxy counted | agree |",
      "|---|---|---|---|",
      ...self.map(
        (d) =>
          `| ${d.role} | ${counts(d.selfCount!.walship).replaceAll(" | ", " / ")} | ${counts(d.selfCount!.proxy).replaceAll(" | ", " / ")} | ${d.selfCount!.agree ? "yes" : "**no**"} |`,
      ),
    );
  }
  if (r.failures.length) lines.push("", "Problems:", ...r.failures.map((f) => `- ${f}`));
  return lines;
}

/** The summary.md section: every request-budget result in `dir`. */
export function budgetSection(dir: string): string[] {
  const results = loadBudgetResults(dir);
  if (!results.length) return [];
  const out = ["", "## Request budget (issue 5)", ""];
  for (const r of results) out.push(...budgetTable(r), "");
  return out;
}
