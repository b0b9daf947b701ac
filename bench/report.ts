/** The tables of a run: one a scenario, plus the runner-overhead table, as text or Markdown. */
import { ALL_IMPLS } from "./args.js";
import type { Outcome } from "./processes.js";
import { IMPL_LABELS } from "./protocol.js";
import type { Section } from "./results-file.js";
import { scenarioNamed } from "./scenarios/index.js";
import { BOT_CPU, columnsOf, int, ratiosOf, type Scenario } from "./scenarios/scenario.js";
import { UPDATES } from "./scenarios/throughput.js";
import { type Cell, ratio, summarize } from "./stats.js";

/** Outcomes by scenario and column id. */
export type Results = Map<Scenario, Map<string, Outcome[]>>;

export interface Table {
  /** The scenario's name; sections of RESULTS.md are replaced by this key. */
  key: string;
  title: string;
  head: string[];
  rows: string[][];
  note?: string;
}

/** The key of the overhead table's section in RESULTS.md. */
export const OVERHEAD_KEY = "runner-overhead";

export function tableOf(scenario: Scenario, results: Results): Table {
  const byColumn = results.get(scenario) ?? new Map<string, Outcome[]>();
  const columns = columnsOf(scenario);
  const ratios = ratiosOf(scenario, columns);
  const head = ["metric", ...columns.map((c) => c.label), ...ratios.map((r) => r.label)];
  const rows = scenario.metrics.map((metric) => {
    const cells = new Map<string, Cell>();
    for (const column of columns)
      cells.set(
        column.id,
        column.na ? { text: "n/a" } : summarize(byColumn.get(column.id), metric),
      );
    const ratioCells = ratios.map((r) =>
      metric.ratio ? ratio(cells.get(r.a) as Cell, cells.get(r.b) as Cell) : "",
    );
    return [metric.label, ...columns.map((c) => (cells.get(c.id) as Cell).text), ...ratioCells];
  });
  return { key: scenario.name, title: scenario.title, head, rows, note: scenario.note };
}

/**
 * A floor's "bot CPU µs/update" as an earlier run wrote it to RESULTS.md, with
 * that run's date: for the overhead table of a run that did not measure it.
 * Only if that run had the same parameters (same title, e.g. not --quick).
 */
function previousFloor(
  previous: Section[],
  scenario: Scenario,
): { value: number; date: string } | undefined {
  const text = previous.find((section) => section.key === scenario.name)?.text;
  if (text === undefined || !text.split("\n").includes(`### ${scenario.title}`)) return undefined;
  const row = text.split("\n").find((line) => /^\| bot CPU µs\/update +\|/.test(line));
  const value = Number(row?.split("|")[2]?.trim());
  if (!Number.isFinite(value)) return undefined;
  return { value, date: /<sub>Measured (\S+) by/.exec(text)?.[1] ?? "an earlier run" };
}

/** The floors' CPU per update, measured now or else as RESULTS.md has it, and which were borrowed. */
function floors(
  results: Results,
  previous: Section[],
): { getUpdates: number; handleUpdate: number; borrowed: string[] } | undefined {
  const borrowed: string[] = [];
  const floorOf = (name: string): number | undefined => {
    const scenario = scenarioNamed(name);
    if (scenario === undefined) return undefined;
    const now = summarize(results.get(scenario)?.get("floor"), BOT_CPU).value;
    if (now !== undefined) return now;
    const before = previousFloor(previous, scenario);
    if (before !== undefined) borrowed.push(`${scenario.name} (measured ${before.date})`);
    return before?.value;
  };
  const handleUpdate = floorOf("handle-update-floor");
  const getUpdates = floorOf("get-updates-floor");
  if (handleUpdate === undefined || getUpdates === undefined) return undefined;
  return { getUpdates, handleUpdate, borrowed };
}

const OVERHEAD_NOTE = `The floors run in processes of their own (each pays its own warm-up and keeps its ${int(UPDATES)} updates alive), so their sum can exceed a lean implementation's end-to-end cost: read values within ±1.5 µs of 0 as no overhead. `;

/** What each runner adds to grammY's own cost per update, if throughput-noop ran. */
export function overheadTable(results: Results, previous: Section[]): Table | undefined {
  const noopScenario = scenarioNamed("throughput-noop");
  const noop = noopScenario === undefined ? undefined : results.get(noopScenario);
  const floor = floors(results, previous);
  if (noop === undefined || floor === undefined) return undefined;
  const { getUpdates, handleUpdate, borrowed } = floor;
  const impls = ALL_IMPLS.filter((i) => noop.has(i));
  if (impls.length === 0) return undefined;
  const rows: string[][] = [];
  for (const impl of impls) {
    const cpu = summarize(noop.get(impl), BOT_CPU).value;
    if (cpu === undefined) continue;
    const overhead = cpu - (getUpdates + handleUpdate);
    rows.push([
      IMPL_LABELS[impl],
      cpu.toFixed(1),
      getUpdates.toFixed(1),
      handleUpdate.toFixed(1),
      overhead.toFixed(1),
      `${((100 * overhead) / cpu).toFixed(0)} %`,
    ]);
  }
  return {
    key: OVERHEAD_KEY,
    title:
      "runner overhead = CPU/update in throughput-noop − (getUpdates-only + handleUpdate-only), µs",
    head: [
      "implementation",
      "CPU/update",
      "getUpdates-only",
      "handleUpdate-only",
      "overhead",
      "share",
    ],
    rows,
    note:
      OVERHEAD_NOTE +
      (borrowed.length > 0
        ? ` Not measured by this run, taken from the previous RESULTS.md: ${borrowed.join(", ")}.`
        : ""),
  };
}

/** Each column as wide as its widest cell, and at least `least`. */
function widthsOf(table: Table, least: number): number[] {
  return table.head.map((h, i) =>
    Math.max(least, h.length, ...table.rows.map((r) => (r[i] ?? "").length)),
  );
}

/** The first column left-aligned, the others right-aligned. */
function aligned(cells: string[], widths: number[]): string[] {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])));
}

/** For the console. */
export function renderText(table: Table): string {
  const widths = widthsOf(table, 0);
  const line = (cells: string[]): string => aligned(cells, widths).join("  ").trimEnd();
  const out = [table.title, line(table.head), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const row of table.rows) out.push(line(row));
  if (table.note) out.push(`note: ${table.note}`);
  return out.join("\n");
}

/** For RESULTS.md. */
export function renderMarkdown(table: Table): string {
  const widths = widthsOf(table, 3);
  const row = (cells: string[]): string => `| ${aligned(cells, widths).join(" | ")} |`;
  const out = [
    `### ${table.title}`,
    "",
    row(table.head),
    `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`,
  ];
  for (const r of table.rows) out.push(row(r));
  if (table.note) out.push("", table.note);
  return out.join("\n");
}
