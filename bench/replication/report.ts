/**
 * Turns the result files (bench/results/*.json of kind walship-bench/replication) into
 * bench/results/summary.md and hand-written SVG charts: memory vs number of databases, CPU vs number of
 * databases, and the lag distribution (CDF) of every cell.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CellResult } from "./index.js";
import { budgetSection } from "./requests-report.js";
import type { ToolRunResult } from "./run.js";

const COLORS: Record<string, string> = { walship: "#1f77b4", litestream: "#d62728", walrust: "#ff7f0e" };

function fmt(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return x.toFixed(digits);
}

function sec(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "–" : (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

function reqPerS(r: ToolRunResult, kinds: string[]): number {
  return kinds.reduce((a, k) => a + (r.requests.windowPerSecond[k] ?? 0), 0);
}

const PUT_KINDS = ["PUT", "PUT_PART", "MPU_CREATE", "MPU_COMPLETE"];
const OTHER_KINDS = ["HEAD", "DELETE", "DELETE_BATCH", "MPU_ABORT", "OTHER"];

function workload(c: CellResult): string {
  const k = c.config;
  return `${k.databases} × ${k.rate}/s${k.rowsPerTx > 1 ? ` × ${k.rowsPerTx} rows` : ""}${k.syncIntervalMs !== 1000 ? `, sync ${k.syncIntervalMs} ms` : ""}`;
}

const HEADER =
  "| cell | workload (dbs × tx/s) | tool | writer tx/s (target) | RSS idle / steady / peak MiB | CPU % (s) | lag p50 / p90 / p99 / max s | unshipped | PUT/s | LIST/s | GET/s | other/s | missing rows | load1 before→after |";
const RULE = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

function row(c: CellResult, r: ToolRunResult): string {
  const l = r.lag.lagMs;
  const loss = r.loss
    ? `${r.loss.missingRows}${r.loss.restoreFailures ? ` (${r.loss.restoreFailures} restores failed)` : ""}`
    : "not checked";
  return `| ${c.name} | ${workload(c)} | ${r.tool} | ${fmt(r.writer.achievedTxPerS)} (${r.writer.targetTxPerS}) | ${fmt(r.rssMiB.idle, 1)} / ${fmt(r.rssMiB.steady, 1)} / ${fmt(r.rssMiB.peak, 1)} | ${fmt(r.cpu.windowPct, 1)} (${fmt(r.cpu.windowS, 1)}) | ${sec(l?.p50)} / ${sec(l?.p90)} / ${sec(l?.p99)} / ${sec(l?.max)} | ${r.lag.unshipped} | ${fmt(reqPerS(r, PUT_KINDS), 1)} | ${fmt(reqPerS(r, ["LIST"]), 2)} | ${fmt(reqPerS(r, ["GET"]), 2)} | ${fmt(reqPerS(r, OTHER_KINDS), 2)} | ${loss} | ${fmt(r.load.before, 1)}→${fmt(r.load.after, 1)} |`;
}

function restoreRows(c: CellResult): string[] {
  const out: string[] = [];
  for (const s of c.restoreSpeed ?? []) {
    for (const p of s.pairs) {
      out.push(
        `| ${c.name} | ${s.sizeMiB} MiB (${(s.dbBytes / 1048576).toFixed(0)} MiB file, ${s.replicas[p.replica]?.files ?? "?"} files in replica) | ${p.restorer} | ${p.replica} | ${p.ok ? sec(p.medianMs) : `FAILED: ${p.error ?? ""}`} | ${fmt(p.mibPerS)} | ${fmt(p.peakRssMiB, 1)} | ${fmt(p.cpuS, 1)} | ${p.runs.map((r) => (r.ms / 1000).toFixed(2)).join(", ")} | ${p.quickCheck} |`,
      );
    }
  }
  return out;
}

const RESTORE_HEADER =
  "| config | database | restorer | replica written by | median s | MiB/s | peak RSS MiB | CPU s | runs (s) | quick_check |";
const RESTORE_RULE = "|---|---|---|---|---|---|---|---|---|---|";

export function cellTable(c: CellResult): string {
  const lines = [
    `${c.name}: ${c.description}`,
    `machine: ${c.machine.cpu}, ${c.machine.cores} cores, ${c.machine.memoryGiB} GiB, node ${c.machine.node}, walship ${c.machine.versions.walship} (${c.machine.gitRevision}${c.machine.gitDirty ? "+dirty" : ""}, dist ${c.machine.walshipDist ?? "live"}), litestream ${c.machine.versions.litestream}, versitygw ${c.machine.versions.versitygw}; load ${c.machine.loadAverageAtStart.join(" ")} → ${c.loadAverageAtEnd.join(" ")}`,
    "",
  ];
  if (c.runs.length) lines.push(HEADER, RULE, ...c.runs.map((r) => row(c, r)));
  if (c.restoreSpeed?.length) lines.push("", RESTORE_HEADER, RESTORE_RULE, ...restoreRows(c));
  if (c.failures.length) lines.push("", "failures:", ...c.failures.map((f) => `- ${f}`));
  return lines.join("\n");
}

export function loadResults(dir: string): CellResult[] {
  const out: CellResult[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".json")) continue;
    try {
      const j = JSON.parse(readFileSync(join(dir, f), "utf8")) as CellResult;
      if (j.kind === "walship-bench/replication") out.push(j);
    } catch {}
  }
  return out;
}

// ---- SVG -------------------------------------------------------------------------------------------------

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: Array<[number, number]>;
}

interface ChartOpts {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  xTicks: number[];
  yTicks?: number[];
  width?: number;
  height?: number;
  xFmt?: (x: number) => string;
  hLines?: Array<{ y: number; label: string }>;
  legend?: "top-left" | "bottom-right";
}

function niceTicks(max: number): number[] {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max * 1.0001 + step; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/** A line chart as an SVG <g> at (ox, oy). */
function chart(series: Series[], o: ChartOpts, ox = 0, oy = 0): string {
  const W = o.width ?? 560;
  const H = o.height ?? 340;
  const m = { l: 64, r: 16, t: 34, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const xs = o.xTicks;
  const allY = series.flatMap((s) => s.points.map((p) => p[1])).concat((o.hLines ?? []).map((h) => h.y));
  const yTicks = o.yTicks ?? niceTicks(Math.max(1e-9, ...allY));
  const tx = (v: number) => (o.xLog ? Math.log10(v) : v);
  const ty = (v: number) => (o.yLog ? Math.log10(Math.max(v, yTicks[0]!)) : v);
  const x0 = tx(xs[0]!);
  const x1 = tx(xs[xs.length - 1]!);
  const y0 = ty(yTicks[0]!);
  const y1 = ty(yTicks[yTicks.length - 1]!);
  const X = (v: number) => m.l + ((tx(v) - x0) / (x1 - x0 || 1)) * pw;
  const Y = (v: number) => m.t + ph - ((ty(v) - y0) / (y1 - y0 || 1)) * ph;
  const parts: string[] = [`<g transform="translate(${ox},${oy})" font-family="sans-serif" font-size="11">`];
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(o.title)}</text>`,
  );
  for (const v of yTicks) {
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#e5e5e5"/>`,
    );
    parts.push(`<text x="${m.l - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  for (const v of xs) {
    parts.push(
      `<line x1="${X(v).toFixed(1)}" x2="${X(v).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`,
    );
    parts.push(
      `<text x="${X(v).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${(o.xFmt ?? String)(v)}</text>`,
    );
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(14,${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  for (const h of o.hLines ?? []) {
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(h.y).toFixed(1)}" y2="${Y(h.y).toFixed(1)}" stroke="#2ca02c" stroke-dasharray="2,3"/>`,
    );
    parts.push(
      `<text x="${m.l + 6}" y="${(Y(h.y) - 4).toFixed(1)}" text-anchor="start" fill="#2ca02c">${esc(h.label)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts.map(([x, y], k) => `${k ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ");
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ""}/>`,
    );
    if (pts.length < 12)
      for (const [x, y] of pts)
        parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const br = o.legend === "bottom-right";
    const ly = br ? m.t + ph - 8 - (series.length - 1 - i) * 15 : m.t + 14 + i * 15;
    const lx = br ? m.l + pw - 200 : m.l + 10;
    parts.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ""}/>`,
    );
    parts.push(`<text x="${lx + 30}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push("</g>");
  return parts.join("\n");
}

function svg(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${body}\n</svg>\n`;
}

/** Cells of the "N databases at 10 tx/s" series, by database count. */
function scaleCells(results: CellResult[]): CellResult[] {
  return results
    .filter((c) => /^dbs-\d+$/.test(c.name) && c.runs.length)
    .sort((a, b) => a.config.databases - b.config.databases);
}

function byTool(cells: CellResult[], pick: (r: ToolRunResult) => number): Series[] {
  const tools = [...new Set(cells.flatMap((c) => c.runs.map((r) => r.tool)))];
  return tools.map((t) => ({
    name: t,
    color: COLORS[t] ?? "#555",
    points: cells
      .map((c) => {
        const r = c.runs.find((x) => x.tool === t);
        return r ? ([c.config.databases, pick(r)] as [number, number]) : null;
      })
      .filter((p): p is [number, number] => p !== null),
  }));
}

function memoryChart(results: CellResult[]): string | null {
  const cells = scaleCells(results);
  if (cells.length < 2) return null;
  const steady = byTool(cells, (r) => r.rssMiB.steady);
  const peak = byTool(cells, (r) => r.rssMiB.peak).map((s) => ({
    ...s,
    name: `${s.name} peak (VmHWM)`,
    dashed: true,
  }));
  const series = [...steady.map((s) => ({ ...s, name: `${s.name} steady RSS` })), ...peak];
  const max = Math.max(...series.flatMap((s) => s.points.map((p) => p[1])), 200);
  const all = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000];
  const top = all.find((t) => t >= max) ?? all[all.length - 1]!;
  const ticks = all.filter((t) => t <= top);
  return svg(
    620,
    380,
    chart(series, {
      title: "Tool RSS vs number of databases (10 tx/s each, 1 KiB rows)",
      xLabel: "databases (log scale)",
      yLabel: "RSS, MiB (log scale)",
      xLog: true,
      yLog: true,
      xTicks: cells.map((c) => c.config.databases),
      yTicks: ticks,
      legend: "bottom-right",
      width: 620,
      height: 380,
      hLines: [{ y: 190.7, label: "goal: 1000 databases < 200 MB (190.7 MiB)" }],
    }),
  );
}

function cpuChart(results: CellResult[]): string | null {
  const cells = scaleCells(results);
  if (cells.length < 2) return null;
  const series = byTool(cells, (r) => r.cpu.windowPct);
  return svg(
    620,
    380,
    chart(series, {
      title: "Tool CPU while writing vs number of databases (10 tx/s each)",
      xLabel: "databases (log scale)",
      yLabel: "CPU, % of one core",
      xLog: true,
      xTicks: cells.map((c) => c.config.databases),
      width: 620,
      height: 380,
    }),
  );
}

/** 1 ms, 10 ms, ... up to the first power of ten at or above the largest lag (at least 10 s). */
function lagTicks(maxMs: number): number[] {
  const t = [1, 10, 100, 1000, 10000];
  while (t[t.length - 1]! < maxMs) t.push(t[t.length - 1]! * 10);
  return t;
}

function lagChart(results: CellResult[]): string | null {
  const cells = results.filter((c) => c.runs.some((r) => r.lag.lagMs));
  if (cells.length === 0) return null;
  const cols = 3;
  const W = 400;
  const H = 270;
  const rows = Math.ceil(cells.length / cols);
  const body: string[] = [];
  cells.forEach((c, i) => {
    const series: Series[] = c.runs
      .filter((r) => r.lag.lagMs)
      .map((r) => ({
        name: `${r.tool} (p99 ${(r.lag.lagMs!.p99 / 1000).toFixed(2)} s)`,
        color: COLORS[r.tool] ?? "#555",
        points: r.lag.lagMs!.cdf.map((v, k) => [Math.max(v, 1), k + 1] as [number, number]),
      }));
    body.push(
      chart(
        series,
        {
          title: `${c.name}: ${workload(c)}`,
          xLabel: "lag, ms (log scale)",
          yLabel: "% of writes",
          xLog: true,
          xTicks: lagTicks(Math.max(...c.runs.map((r) => r.lag.lagMs?.max ?? 0))),
          yTicks: [0, 25, 50, 75, 100],
          width: W,
          height: H,
          xFmt: (x) => (x >= 1000 ? `${x / 1000}s` : `${x}`),
        },
        (i % cols) * W,
        Math.floor(i / cols) * H,
      ),
    );
  });
  return svg(cols * W, rows * H, body.join("\n"));
}

// ---- goals (issue 9) ----------------------------------------------------------------------------------------

interface GoalRow {
  goal: string;
  cell: string;
  walship: string;
  litestream: string;
  met: boolean | null;
}

const MB200_MIB = 200e6 / 1048576;

/** The issue's goals, evaluated on the result files that measure them (null = not measured yet). */
export function goals(results: CellResult[]): GoalRow[] {
  const cell = (n: string) => results.find((c) => c.name === n);
  const run = (n: string, t: string) => cell(n)?.runs.find((r) => r.tool === t);
  const rows: GoalRow[] = [];
  const s = (x: number | undefined | null, unit: string, d = 1) =>
    x === undefined || x === null ? "not measured" : `${x.toFixed(d)} ${unit}`;
  const mem = (n: string, f: number | null, what: string) => {
    const w = run(n, "walship");
    const l = run(n, "litestream");
    rows.push({
      goal: what,
      cell: n,
      walship: w ? `${s(w.rssMiB.steady, "MiB")} steady, ${s(w.rssMiB.peak, "MiB")} peak` : "not measured",
      litestream: l ? `${s(l.rssMiB.steady, "MiB")} steady, ${s(l.rssMiB.peak, "MiB")} peak` : "not measured",
      met:
        w && l && f !== null
          ? w.rssMiB.steady <= f * l.rssMiB.steady && w.rssMiB.peak <= f * l.rssMiB.peak
          : null,
    });
  };
  mem("dbs-100", 0.5, "Memory: RSS at 100 databases <= 0.5x Litestream's (steady and peak)");
  mem("dbs-1", 1, "Memory: RSS at 1 database <= Litestream's (steady and peak)");
  {
    const w = run("dbs-1000", "walship");
    const l = run("dbs-1000", "litestream");
    rows.push({
      goal: "Memory: 1000 databases in one process under 200 MB (peak RSS)",
      cell: "dbs-1000",
      walship: w ? `${s(w.rssMiB.steady, "MiB")} steady, ${s(w.rssMiB.peak, "MiB")} peak` : "not measured",
      litestream: l ? `${s(l.rssMiB.steady, "MiB")} steady, ${s(l.rssMiB.peak, "MiB")} peak` : "not measured",
      met: w ? w.ok && w.rssMiB.peak < MB200_MIB : null,
    });
  }
  const lag = (n: string, p: "p50" | "p99", limitMs: number, what: string) => {
    const w = run(n, "walship");
    const l = run(n, "litestream");
    const v = (r: ToolRunResult | undefined) =>
      r?.lag.lagMs
        ? `${p} ${(r.lag.lagMs[p] / 1000).toFixed(3)} s${r.lag.unshipped ? ` (${r.lag.unshipped} unshipped)` : ""}`
        : "not measured";
    rows.push({
      goal: what,
      cell: n,
      walship: v(w),
      litestream: v(l),
      met: w?.lag.lagMs ? w.lag.lagMs[p] <= limitMs && w.lag.unshipped === 0 : null,
    });
  };
  for (const n of ["dbs-1", "dbs-10", "dbs-100", "dbs-1000", "sparse"]) {
    if (!cell(n)) continue;
    lag(n, "p50", 300, "Lag at default settings: p50 <= 0.3 s");
    lag(n, "p99", 1000, "Lag at default settings: p99 <= 1.0 s");
  }
  lag("low-latency", "p99", 100, "Lag at the lowest-latency setting (10 ms): p99 <= 0.1 s");
  const thr = (n: string, what: string) => {
    const w = run(n, "walship");
    const l = run(n, "litestream");
    const v = (r: ToolRunResult | undefined) =>
      r
        ? `${r.loss?.missingRows ?? "?"} missing rows, writer ${r.writer.achievedTxPerS.toFixed(0)}/${r.writer.targetTxPerS} tx/s, CPU ${r.cpu.windowPct.toFixed(1)} %, lag p99 ${((r.lag.lagMs?.p99 ?? Number.NaN) / 1000).toFixed(2)} s`
        : "not measured";
    rows.push({
      goal: what,
      cell: n,
      walship: v(w),
      litestream: v(l),
      met:
        w && l && w.loss && l.loss
          ? w.loss.missingRows === 0 &&
            w.loss.restoreFailures === 0 &&
            w.lag.unshipped === 0 &&
            w.writer.achievedTxPerS >= 0.95 * w.writer.targetTxPerS &&
            w.cpu.windowS <= l.cpu.windowS
          : null,
    });
  };
  thr(
    "throughput-100x100",
    "Throughput: 100 dbs x 100 tx/s sustained (writer >= 95 % of target), zero missing rows, CPU s <= Litestream's",
  );
  thr(
    "rate-5000",
    "Throughput: 1 db x 5000 tx/s sustained (writer >= 95 % of target), zero missing rows, CPU s <= Litestream's",
  );
  const rs = results.flatMap((c) => c.restoreSpeed ?? []).find((r) => r.sizeMiB === 1024);
  {
    const p = (a: string, b: string) => rs?.pairs.find((x) => x.restorer === a && x.replica === b);
    const wl = p("walship", "litestream");
    const ww = p("walship", "walship");
    const ll = p("litestream", "litestream");
    rows.push({
      goal: "Restore: 1 GiB at least 2x faster than Litestream's restore of the same replica",
      cell: "restore",
      walship: wl?.medianMs
        ? `${(wl.medianMs / 1000).toFixed(2)} s from Litestream's replica${ww?.medianMs ? `, ${(ww.medianMs / 1000).toFixed(2)} s from its own` : ""}`
        : rs
          ? `failed: ${wl?.error ?? "?"}`
          : "not measured",
      litestream: ll?.medianMs ? `${(ll.medianMs / 1000).toFixed(2)} s from its own replica` : "not measured",
      met: wl?.medianMs && ll?.medianMs ? wl.medianMs * 2 <= ll.medianMs : rs ? false : null,
    });
  }
  return rows;
}

function goalsTable(results: CellResult[]): string[] {
  return [
    "| goal | cell | walship | Litestream v0.5.17 | met |",
    "|---|---|---|---|---|",
    ...goals(results).map(
      (g) =>
        `| ${g.goal} | ${g.cell} | ${g.walship} | ${g.litestream} | ${g.met === null ? "not measured" : g.met ? "met" : "**not met**"} |`,
    ),
  ];
}

/** Rewrites summary.md and the charts from every result file in `dir`; returns the files written. */
export function writeReport(dir: string): string[] {
  const results = loadResults(dir);
  const written: string[] = [];
  const charts: Array<[string, string | null]> = [
    ["memory-vs-databases.svg", memoryChart(results)],
    ["cpu-vs-databases.svg", cpuChart(results)],
    ["lag-cdf.svg", lagChart(results)],
  ];
  for (const [name, content] of charts) {
    if (content) {
      writeFileSync(join(dir, name), content);
      written.push(name);
    }
  }
  const machines = [
    ...new Set(
      results.map(
        (c) =>
          `${c.machine.cpu}, ${c.machine.cores} cores, ${c.machine.memoryGiB} GiB, ${c.machine.os}, node ${c.machine.node}`,
      ),
    ),
  ];
  const versions = [
    ...new Set(
      results.map(
        (c) =>
          `litestream ${c.machine.versions.litestream}, versitygw ${c.machine.versions.versitygw}, better-sqlite3 ${c.machine.versions["better-sqlite3"]}${c.machine.versions.walrust && c.machine.versions.walrust !== "not installed" ? `, walrust ${c.machine.versions.walrust}` : ""}`,
      ),
    ),
  ];
  const builds = results.map((c) => {
    const version = c.machine.versions.walship.replace(/^walship /, "");
    // A cell re-run with --merge keeps its first run's machine facts: walship's own run says what it ran on.
    const w = c.runs.find((r) => r.tool === "walship");
    if (w?.ranAt && Date.parse(w.ranAt.date) > Date.parse(c.machine.date) + c.elapsedS * 1000) {
      return `| ${c.name} | ${w.ranAt.date.slice(0, 16).replace("T", " ")} (walship re-run) | ${version} | ${w.ranAt.gitRevision} | ${w.ranAt.walshipDist} | load1 ${w.load.before} → ${w.load.after} during walship's run | |`;
    }
    return `| ${c.name} | ${c.machine.date.slice(0, 16).replace("T", " ")} | ${version} | ${c.machine.gitRevision}${c.machine.gitDirty ? "+dirty" : ""} | ${c.machine.walshipDist ?? "live dist/"} | ${c.machine.loadAverageAtStart.join(" ")} → ${c.loadAverageAtEnd.join(" ")} | ${c.elapsedS} s |`;
  });
  const md = [
    "# Replication benchmark summary",
    "",
    "Generated by `npm run bench -- bench/configs/<cell>.toml` from the result files in this folder; see docs/performance.md for the method and the goals.",
    "",
    `Machine: ${machines.join("; ")}`,
    `Software: ${versions.join("; ")}; walship: see "Builds and machine load per cell" below`,
    "",
    "## Goals (issue 9)",
    "",
    ...goalsTable(results),
    "",
    "## All runs",
    "",
    "Columns: *writer tx/s* is what the writer process achieved (target in brackets); RSS is the tool process's VmRSS (idle = before writes, steady = median of the second half of the write window, peak = VmHWM); CPU is the tool's utime+stime during the write window as % of one core (seconds in brackets); lag is commit -> object acknowledged by the server, in seconds; *unshipped* = transactions not in any object before the tool was stopped; request rates are per second of the write window, counted at the proxy (PUT includes multipart parts); *missing rows* is after restoring every database with the tool's own restore.",
    "",
    HEADER,
    RULE,
    ...results.flatMap((c) => c.runs.map((r) => row(c, r))),
  ];
  const rs = results.flatMap((c) => restoreRows(c));
  if (rs.length) md.push("", "## Restore speed", "", RESTORE_HEADER, RESTORE_RULE, ...rs);
  md.push(...budgetSection(dir));
  const failures = results.flatMap((c) => c.failures.map((f) => `- ${c.name}: ${f}`));
  if (failures.length) md.push("", "## Failures and problems", "", ...failures);
  md.push(
    "",
    "## Builds and machine load per cell",
    "",
    "The repository is shared and rebuilt by others while the benchmark runs, so each cell runs walship from a frozen copy of dist/ named by a hash of its files (older cells: the live dist/). Load averages are the machine's (2 cores) at the start and the end of each cell; above ~2 the tools competed for CPU with other work. A cell whose walship run was repeated later (--merge keeps the other tools' runs) shows that run: when it ended, its build and the 1-minute load before and after it.",
    "",
    "| cell | started (UTC) | walship | git HEAD | dist hash | load 1/5/15 start → end | elapsed |",
    "|---|---|---|---|---|---|---|",
    ...builds,
  );
  md.push(
    "",
    "Charts: [memory vs databases](memory-vs-databases.svg), [CPU vs databases](cpu-vs-databases.svg), [lag distribution](lag-cdf.svg).",
    "",
  );
  writeFileSync(join(dir, "summary.md"), md.join("\n"));
  written.push("summary.md");
  return written;
}
