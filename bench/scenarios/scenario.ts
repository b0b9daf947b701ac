/**
 * What a scenario is: the job its bot processes run, the columns of its table
 * (implementations or variants of them) and the metrics in its rows.
 */
import { ALL_IMPLS, options } from "../args.js";
import { IMPL_LABELS, type Impl, type Job } from "../protocol.js";

export interface MetricDef {
  key: string;
  label: string;
  format: (value: number) => string;
  /** Whether an "ours / other" ratio makes sense. */
  ratio: boolean;
}

/** One column of a scenario's table: an implementation, possibly in a variant (journal, workers). */
export interface Column {
  /** Key of the column's results; the implementation's name for plain columns. */
  id: string;
  impl: Impl;
  label: string;
  /** Shown as n/a, not run. */
  na?: boolean;
}

/** An `a / b` column, e.g. "ours / runner". */
export interface RatioDef {
  label: string;
  a: string;
  b: string;
}

export interface Scenario {
  name: string;
  title: string;
  /** Implementations measured; `na` ones get a column saying n/a. */
  impls: Impl[];
  na?: Impl[];
  /** Instead of one column per implementation: columns of their own (variants). */
  columns?: Column[];
  /** Instead of ours / runner and ours / bot.start(). */
  ratios?: RatioDef[];
  needsServer: boolean;
  /** Node.js flags its bot processes need, on top of BENCH_BOT_NODE_ARGS. */
  botNodeArgs?: string[];
  timeoutMs: number;
  job: (column: Column) => Job;
  metrics: MetricDef[];
  note?: string;
}

/** Thousands separated, e.g. "20,000"; "—" for no value. */
export const int = (v: number): string =>
  Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "—";
export const fixed =
  (digits: number) =>
  (v: number): string =>
    Number.isFinite(v) ? v.toFixed(digits) : "—";

export function metric(
  key: string,
  label: string,
  format: (value: number) => string,
  ratio = false,
): MetricDef {
  return { key, label, format, ratio };
}

/** The rows most scenarios share, with an "ours / other" ratio. */
export const RATE = metric("rate", "updates/s", int, true);
export const BOT_CPU = metric("cpu", "bot CPU µs/update", fixed(1), true);
export const PEAK_RSS = metric("rss", "bot peak RSS MB", fixed(0), true);
export const CALLS = metric("calls", "getUpdates calls/1k updates", fixed(1), true);

/** The same row without a ratio, for tables with nothing to compare. */
export const withoutRatio = (def: MetricDef): MetricDef => ({ ...def, ratio: false });

/** The scenario's columns in table order, those excluded by --impl left out. */
export function columnsOf(scenario: Scenario): Column[] {
  let columns: Column[];
  if (scenario.columns !== undefined) columns = scenario.columns;
  else {
    const na = scenario.na ?? [];
    const all = [...scenario.impls, ...na];
    const ordered = ALL_IMPLS.filter((i) => all.includes(i));
    if (all.includes("floor")) ordered.push("floor");
    columns = ordered.map((impl) => ({
      id: impl,
      impl,
      label: IMPL_LABELS[impl],
      na: na.includes(impl),
    }));
  }
  const only = options.impls;
  return columns.filter((c) => c.impl === "floor" || only.length === 0 || only.includes(c.impl));
}

/** The ratio columns whose two sides both have a column that runs. */
export function ratiosOf(scenario: Scenario, columns: Column[]): RatioDef[] {
  const has = (id: string): boolean => columns.some((c) => c.id === id && c.na !== true);
  const ratios = scenario.ratios ?? [
    ...(["runner", "start"] as const).map((other) => ({
      label: `ours / ${other === "runner" ? "runner" : "bot.start()"}`,
      a: "ours",
      b: other,
    })),
  ];
  return ratios.filter((r) => has(r.a) && has(r.b));
}
