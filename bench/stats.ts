/**
 * The statistics of the bench: percentiles in a bot process, and the medians
 * over rounds that make a table's cells in the orchestrator.
 */
import type { Outcome } from "./processes.js";
import type { Value } from "./protocol.js";
import type { MetricDef } from "./scenarios/scenario.js";

/** The nearest-rank `p` quantile of ascending `sorted`; NaN if empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** The median, NaNs left out; the mean of the middle two for an even count. */
export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid];
  const [a, b] = [sorted[mid - 1], sorted[mid]];
  return a === b ? a : (a + b) / 2;
}

/** A table cell: its text, and the number behind it for ratios. */
export interface Cell {
  text: string;
  value?: number;
}

/** One metric over a column's rounds: the median, or how many said yes, and how many failed. */
export function summarize(outcomes: Outcome[] | undefined, metric: MetricDef): Cell {
  if (outcomes === undefined || outcomes.length === 0) return { text: "—" };
  const ok = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  const failed = outcomes.length - ok.length;
  if (ok.length === 0) {
    const reasons = [...new Set(outcomes.map((o) => (o.ok ? "" : o.reason)))];
    return { text: reasons.includes("timeout") ? "timeout" : "error" };
  }
  const suffix = failed > 0 ? ` (${failed}/${outcomes.length} failed)` : "";
  const values: Value[] = ok.map((o) => o.metrics[metric.key]);
  if (values.every((v) => typeof v === "boolean")) {
    const yes = values.filter((v) => v === true).length;
    const text = yes === values.length ? "yes" : yes === 0 ? "no" : `${yes}/${values.length} yes`;
    return { text: text + suffix };
  }
  if (values.every((v) => typeof v === "number")) {
    const value = median(values as number[]);
    let text = metric.format(value);
    if (value === Number.POSITIVE_INFINITY) text = "> cap";
    return { text: text + suffix, value };
  }
  return { text: String(values[0]) + suffix };
}

/** `a / b` as "1.04×" (two significant digits below 0.1); "—" without two finite values. */
export function ratio(a: Cell, b: Cell): string {
  if (a.value === undefined || b.value === undefined) return "—";
  if (!Number.isFinite(a.value) || !Number.isFinite(b.value) || b.value === 0) return "—";
  const r = a.value / b.value;
  return `${r >= 0.1 || r === 0 ? r.toFixed(2) : r.toPrecision(2)}×`;
}
