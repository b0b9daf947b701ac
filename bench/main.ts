/**
 * The benchmark orchestrator: `npm run bench [-- --quick] [--rounds N]
 * [--scenario NAME[,NAME]] [--impl ours,runner,start]`.
 *
 * Every measured run is a fresh bot process (`bot.ts`) next to a fresh fake
 * Bot API server process (`server.ts`); implementations alternate A B C A B C
 * for N rounds and the tables show medians. Results also go to
 * `bench/RESULTS.md` (a --quick run: `bench/.out/RESULTS-quick.md`).
 */

import { relative } from "node:path";
import { options } from "./args.js";
import { QUICK_RESULTS_FILE, RESULTS_FILE } from "./paths.js";
import { type Outcome, runOnce } from "./processes.js";
import { overheadTable, type Results, renderText, type Table, tableOf } from "./report.js";
import { readSections, writeResults } from "./results-file.js";
import { selectScenarios } from "./scenarios/index.js";
import { type Column, columnsOf, type Scenario } from "./scenarios/scenario.js";

const { rounds, quick } = options;

/** Failed and force-killed runs: all of them for the console, by scenario for RESULTS.md. */
class Problems {
  readonly failures: string[] = [];
  readonly forced: string[] = [];
  private readonly byScenario = new Map<string, string[]>();

  note(scenario: Scenario, where: string, outcome: Outcome): void {
    const noted = this.byScenario.get(scenario.name) ?? [];
    this.byScenario.set(scenario.name, noted);
    if (!outcome.ok) {
      this.failures.push(`${where}: ${outcome.reason}`);
      noted.push(`failed: ${where}: ${outcome.reason}`);
    }
    if (outcome.forcedExit) {
      this.forced.push(where);
      noted.push(`killed after the run (did not exit): ${where}`);
    }
  }

  of(key: string): string[] {
    return this.byScenario.get(key) ?? [];
  }
}

function progressLine(scenario: Scenario, round: number, column: Column, outcome: Outcome): string {
  const status = outcome.ok ? "ok" : outcome.reason;
  const killed = outcome.forcedExit ? " (killed after the run: did not exit)" : "";
  return `  ${scenario.name.padEnd(20)} round ${round}/${rounds}  ${column.label.padEnd(27)} ${outcome.seconds.toFixed(1).padStart(5)} s  ${status}${killed}`;
}

/** Every round of every scenario, the columns alternating within a round. */
async function measure(scenarios: Scenario[], problems: Problems): Promise<Results> {
  const results: Results = new Map();
  for (const scenario of scenarios) {
    const columns = columnsOf(scenario).filter((c) => c.na !== true);
    const byColumn = new Map<string, Outcome[]>();
    results.set(scenario, byColumn);
    for (let round = 1; round <= rounds; round++) {
      for (const column of columns) {
        const outcome = await runOnce(scenario, column);
        const list = byColumn.get(column.id) ?? [];
        list.push(outcome);
        byColumn.set(column.id, list);
        problems.note(scenario, `${scenario.name} round ${round} ${column.label}`, outcome);
        console.error(progressLine(scenario, round, column, outcome));
      }
    }
  }
  return results;
}

function print(tables: Table[], problems: Problems, totalSeconds: number): void {
  console.log();
  for (const table of tables) console.log(`${renderText(table)}\n`);
  if (problems.failures.length > 0)
    console.log(`failed runs:\n  ${problems.failures.join("\n  ")}\n`);
  if (problems.forced.length > 0)
    console.log(
      `runs whose processes had to be killed afterwards:\n  ${problems.forced.join("\n  ")}\n`,
    );
  console.log(`total ${totalSeconds.toFixed(0)} s`);
}

async function main(): Promise<void> {
  const scenarios = selectScenarios();
  const started = performance.now();
  const problems = new Problems();
  console.error(
    `bench: ${scenarios.length} scenario(s), ${rounds} round(s)${quick ? ", quick" : ""}; each run is a fresh bot process next to a fresh fake-server process`,
  );
  const results = await measure(scenarios, problems);
  const totalSeconds = (performance.now() - started) / 1000;

  const out = options.out ?? (quick ? QUICK_RESULTS_FILE : RESULTS_FILE);
  const previous = readSections(out === "-" ? RESULTS_FILE : out);
  const tables = scenarios.map((s) => tableOf(s, results));
  const overhead = overheadTable(results, previous);
  if (overhead !== undefined) tables.push(overhead);
  print(tables, problems, totalSeconds);

  if (out === "-") return;
  writeResults(out, previous, tables, {
    rounds,
    totalSeconds,
    problems: (key) => problems.of(key),
  });
  console.log(`results written to ${relative(process.cwd(), out)}`);
}

await main();
