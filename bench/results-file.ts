/**
 * RESULTS.md: one section per scenario, replaced by the runs that measure it;
 * the others keep their text and place.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { OVERHEAD_KEY, renderMarkdown, type Table } from "./report.js";
import { SCENARIOS } from "./scenarios/index.js";

/** Marks the start of a section: `<!-- section: NAME -->`. */
const SECTION_MARK = /^<!-- section: ([\w.-]+) -->$/;

export interface Section {
  key: string;
  /** Markdown from the marker (or the `###` title) up to the next section. */
  text: string;
}

function runLine(date: string, command: string, rounds: number | string): string {
  return `<sub>Measured ${date} by \`${command}\`, ${rounds} round(s), medians.</sub>`;
}

/** The key of a section from before the markers: the scenario's name before the colon. */
function legacyKey(title: string): string {
  return title.startsWith("runner overhead")
    ? OVERHEAD_KEY
    : (/^([\w.-]+):/.exec(title)?.[1] ?? title);
}

/**
 * The sections of an existing RESULTS.md. Files written before the markers
 * existed are split at their `### name: …` titles, and their sections get the
 * old header's run line (date, command, rounds), which a merge would lose.
 */
export function readSections(file: string): Section[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n");
  const header = (prefix: string): string | undefined =>
    lines.find((l) => l.startsWith(prefix))?.slice(prefix.length);
  const legacyDate = header("- date: ");
  const legacyCommand = header("- command: ");
  const legacyRounds = header("- rounds: ")?.split(" ")[0];
  const sections: Section[] = [];
  let current: { key: string; lines: string[]; legacy: boolean } | undefined;
  const finish = (): void => {
    if (current === undefined) return;
    while (current.lines.length > 0 && current.lines[current.lines.length - 1].trim() === "")
      current.lines.pop();
    if (current.legacy && legacyDate !== undefined)
      current.lines.push(
        "",
        runLine(legacyDate, legacyCommand?.replaceAll("`", "") ?? "?", legacyRounds ?? "?"),
      );
    sections.push({ key: current.key, text: current.lines.join("\n") });
    current = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const mark = SECTION_MARK.exec(line);
    if (mark !== null) {
      finish();
      current = { key: mark[1], lines: [line], legacy: false };
    } else if (line.startsWith("### ") && !SECTION_MARK.test(lines[i - 1] ?? "")) {
      finish();
      const key = legacyKey(line.slice(4));
      current = { key, lines: [`<!-- section: ${key} -->`, line], legacy: true };
    } else current?.lines.push(line);
  }
  finish();
  return sections;
}

/** New sections replace old ones with the same key; the rest keep their place. */
function mergeSections(old: Section[], fresh: Section[]): Section[] {
  const order = [...SCENARIOS.map((s) => s.name), OVERHEAD_KEY];
  const byKey = new Map(old.map((s) => [s.key, s]));
  for (const section of fresh) byKey.set(section.key, section);
  const rank = (key: string): number => {
    const i = order.indexOf(key);
    return i === -1 ? order.length : i;
  };
  return [...byKey.values()].sort((a, b) => rank(a.key) - rank(b.key));
}

/** The machine the run was measured on. */
function machine(): string[] {
  const cpus = os.cpus();
  return [
    `CPU: ${cpus[0]?.model ?? "unknown"}, ${cpus.length} cores`,
    `memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `Node.js: ${process.version}`,
  ];
}

/** How this run was started, as a reader would type it. */
function commandLine(): string {
  const args = process.argv.slice(2).join(" ");
  if (process.env.npm_lifecycle_event === "bench")
    return `npm run bench${args === "" ? "" : ` -- ${args}`}`;
  return `node bench/run.mjs${args === "" ? "" : ` ${args}`}`;
}

const ABOUT =
  "Each run is a fresh Node.js process driving a real grammY `Bot` (grammY " +
  "`bot.start()`, `@grammyjs/runner` 2.0.3 `run()` or grammy-runner `run()`) against the " +
  "fake Bot API server of `grammy-runner/testing`, itself in a separate process, over " +
  "loopback HTTP; the client scenarios also measure grammy-runner `run()` with " +
  "`createFetch()` from grammy-runner/fetch as grammY's `client.fetch`. " +
  "Implementations alternate A B C A B C. Throughput is measured from the " +
  "first getUpdates call to the last handler done, with every update already waiting on " +
  "the server; CPU is the bot process's `process.cpuUsage()` (user + system) over that " +
  "span; RSS is the bot process's peak. Ratios are a / b as labelled, mostly ours / other " +
  "(for updates/s higher is better; for CPU, RSS, calls and latencies lower is better). " +
  "Wall-clock rates move by up to ±20 % between runs on a busy 2-core machine; CPU " +
  "µs/update is the steadier figure.";

export interface RunSummary {
  rounds: number;
  totalSeconds: number;
  /** What went wrong in a scenario's runs, by table key. */
  problems: (key: string) => string[];
}

/** Writes `tables` into `file` over the sections they replace in `previous`. */
export function writeResults(
  file: string,
  previous: Section[],
  tables: Table[],
  run: RunSummary,
): void {
  const date = new Date().toISOString();
  const fresh: Section[] = tables.map((table) => {
    const noted = run.problems(table.key);
    const lines = [`<!-- section: ${table.key} -->`, renderMarkdown(table), ""];
    if (noted.length > 0) lines.push(...noted.map((n) => `- ${n}`), "");
    lines.push(runLine(date, commandLine(), run.rounds));
    return { key: table.key, text: lines.join("\n") };
  });
  const md = [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (bench/main.ts). A run replaces the sections of the scenarios " +
      "it measured and keeps the others (`--scenario NAME` refreshes one); each section says " +
      "when and how it was measured.",
    "",
    ...machine().map((l) => `- ${l}`),
    `- last run: ${date}, \`${commandLine()}\`, ${run.rounds} round(s), ${run.totalSeconds.toFixed(0)} s`,
    "",
    ABOUT,
    "",
    ...mergeSections(previous, fresh).flatMap((section) => [section.text, ""]),
  ].join("\n");
  writeFileSync(file, md);
  console.log(`wrote ${file}`);
}
