/**
 * Prometheus text exposition format 0.0.4, written directly (prom-client would cost a dependency and a
 * global registry for a few dozen series). One family = HELP, TYPE, then its samples.
 */

export type Labels = Record<string, string>;

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

export class PromText {
  private readonly out: string[] = [];

  family(
    name: string,
    type: "gauge" | "counter" | "histogram",
    help: string,
    samples: Array<[Labels, number]>,
  ): void {
    this.out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) this.out.push(`${name}${labelText(labels)} ${formatValue(v)}`);
  }

  histogram(name: string, help: string, series: Array<[Labels, Histogram]>): void {
    this.out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`);
    for (const [labels, h] of series) {
      let cum = 0;
      h.buckets.forEach((le, i) => {
        cum += h.counts[i]!;
        this.out.push(`${name}_bucket${labelText({ ...labels, le: formatValue(le) })} ${cum}`);
      });
      this.out.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${h.count}`);
      this.out.push(`${name}_sum${labelText(labels)} ${formatValue(h.sum)}`);
      this.out.push(`${name}_count${labelText(labels)} ${h.count}`);
    }
  }

  toString(): string {
    return `${this.out.join("\n")}\n`;
  }
}

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const i = this.buckets.findIndex((le) => v <= le);
    if (i >= 0) this.counts[i]!++;
  }
}
