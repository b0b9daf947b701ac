/**
 * The benchmark orchestrator: `npm run bench [-- --quick] [--rounds N]
 * [--scenario NAME[,NAME]] [--impl ours,runner,start]`.
 *
 * Every measured run is a fresh bot process (`bot.ts`) next to a fresh fake
 * Bot API server process (`server.ts`); implementations alternate A B C A B C
 * for N rounds and the tables show medians. Results also go to
 * `bench/RESULTS.md`.
 */
import { type ChildProcess, fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type BotReport,
  type BotTask,
  IMPL_LABELS,
  type Impl,
  JOB_ENV,
  type Job,
  type Metrics,
  type RpcReply,
  type RpcRequest,
  type ServerReady,
  type Value,
} from "./protocol.js";

const OUT_DIR = dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = dirname(OUT_DIR);
const RUNNERS: Impl[] = ["ours", "runner", "start"];

// === Options

const USAGE = `Usage: npm run bench -- [options]

  --quick              fewer updates, shorter handlers (a smoke run)
  --rounds N           rounds per scenario (default 3); implementations alternate A B C A B C
  --scenario NAMES     comma-separated names or prefixes (e.g. "throughput", "fairness"); repeatable
  --impl NAMES         comma-separated subset of ${RUNNERS.join(", ")}
  --timeout SECONDS    hard limit per run instead of the scenario's own (60-90 s)
  --out FILE           where to write the results (default bench/RESULTS.md; "-" for nowhere)
  --help               this text

Environment: BENCH_BOT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" passes Node.js flags
to the bot processes (e.g. to profile them).`;

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    scenario: { type: "string", multiple: true },
    impl: { type: "string", multiple: true },
    out: { type: "string" },
    timeout: { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
  allowPositionals: false,
});

if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

const quick = flags.quick === true;
const rounds = flags.rounds === undefined ? 3 : Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds must be a positive integer, got ${flags.rounds}\n\n${USAGE}`);
  process.exit(2);
}
const timeoutOverride = flags.timeout === undefined ? undefined : Number(flags.timeout) * 1000;
if (timeoutOverride !== undefined && !(timeoutOverride > 0)) {
  console.error(`--timeout must be a positive number of seconds, got ${flags.timeout}`);
  process.exit(2);
}
const implFilter = (flags.impl ?? []).flatMap((s) => s.split(",")).filter((s) => s !== "");
for (const name of implFilter) {
  if (!RUNNERS.includes(name as Impl)) {
    console.error(`unknown --impl ${name}; choose from ${RUNNERS.join(", ")}`);
    process.exit(2);
  }
}

// === Scenarios

interface MetricDef {
  key: string;
  label: string;
  format: (value: number) => string;
  /** Whether an "ours / other" ratio makes sense. */
  ratio: boolean;
}

interface Scenario {
  name: string;
  title: string;
  /** Implementations measured; `na` ones get a column saying n/a. */
  impls: Impl[];
  na?: Impl[];
  needsServer: boolean;
  timeoutMs: number;
  job: (impl: Impl) => Job;
  metrics: MetricDef[];
  note?: string;
}

const int = (v: number): string =>
  Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "—";
const fixed =
  (digits: number) =>
  (v: number): string =>
    Number.isFinite(v) ? v.toFixed(digits) : "—";

const UPDATES = quick ? 4_000 : 20_000;
const CHATS = quick ? 200 : 1_000;
/** bot.start() handles one update at a time: 20,000 × 5 ms would take 100 s. */
const SEQUENTIAL_SLOW_UPDATES = quick ? 200 : 1_000;
const FLOOD = quick ? 500 : 2_000;
const QUIET_GROUPS = quick ? 10 : 20;
const QUIET_PER_GROUP = 10;
const QUIET_INTERVAL_MS = quick ? 10 : 5;
const FAIRNESS_CAP_MS = quick ? 10_000 : 30_000;
const STOP_HANDLER_MS = quick ? 500 : 2_000;

const THROUGHPUT_METRICS: MetricDef[] = [
  { key: "updates", label: "updates handled", format: int, ratio: false },
  { key: "rate", label: "updates/s", format: int, ratio: true },
  { key: "cpu", label: "bot CPU µs/update", format: fixed(1), ratio: true },
  { key: "rss", label: "bot peak RSS MB", format: fixed(0), ratio: true },
  { key: "calls", label: "getUpdates calls/1k updates", format: fixed(1), ratio: true },
];

function throughputScenario(name: string, delayMs: number, seq: boolean): Scenario {
  const handler = delayMs === 0 ? "no-op handler" : `handler awaits ${delayMs} ms`;
  return {
    name,
    title: `${name}: ${UPDATES.toLocaleString("en-US")} updates over ${CHATS.toLocaleString("en-US")} chats, ${handler}${seq ? ", sequentialize(chat id)" : ""}`,
    impls: RUNNERS,
    needsServer: true,
    timeoutMs: quick ? 45_000 : 90_000,
    job: (impl) => ({
      kind: "throughput",
      updates: impl === "start" && delayMs > 0 ? SEQUENTIAL_SLOW_UPDATES : UPDATES,
      chats: CHATS,
      delayMs,
      seq,
    }),
    metrics: THROUGHPUT_METRICS,
    note:
      (delayMs > 0
        ? `bot.start() handles one update at a time, so it gets ${SEQUENTIAL_SLOW_UPDATES.toLocaleString("en-US")} updates here; compare rates. `
        : "") + (seq ? "bot.start() runs without sequentialize (it is sequential anyway)." : ""),
  };
}

const FAIRNESS_METRICS: MetricDef[] = [
  { key: "p50", label: "quiet chats: push → handler start p50 ms", format: fixed(1), ratio: true },
  { key: "p99", label: "quiet chats: push → handler start p99 ms", format: fixed(1), ratio: true },
  { key: "quietStarted", label: "quiet updates started within the cap", format: int, ratio: false },
  { key: "inOrder", label: "flood chat strictly in order", format: String, ratio: false },
  { key: "calls", label: "getUpdates calls/1k updates", format: fixed(1), ratio: true },
];

function fairnessScenario(concurrency: number): Scenario {
  const quiet = QUIET_GROUPS * QUIET_PER_GROUP;
  return {
    name: `fairness-c${concurrency}`,
    title: `fairness-c${concurrency}: sink concurrency ${concurrency}, sequentialize(chat id), 10 ms handlers; one chat floods ${FLOOD.toLocaleString("en-US")}, then ${quiet} quiet chats send 1 each (${QUIET_GROUPS} groups over ~${(QUIET_GROUPS - 1) * QUIET_INTERVAL_MS} ms)`,
    impls: ["ours", "runner"],
    na: ["start"],
    needsServer: true,
    timeoutMs: FAIRNESS_CAP_MS + 45_000,
    job: () => ({
      kind: "fairness",
      flood: FLOOD,
      quietGroups: QUIET_GROUPS,
      quietPerGroup: QUIET_PER_GROUP,
      quietIntervalMs: QUIET_INTERVAL_MS,
      handlerMs: 10,
      concurrency,
      capMs: FAIRNESS_CAP_MS,
    }),
    metrics: FAIRNESS_METRICS,
    note: `Latency is measured on a clock shared by both processes; a quiet update not started within ${FAIRNESS_CAP_MS / 1000} s counts as "—" (above the cap). Once measured, handlers stop sleeping so the backlog drains fast; getUpdates calls are counted until every update was handled.`,
  };
}

const SCENARIOS: Scenario[] = [
  throughputScenario("throughput-noop", 0, false),
  throughputScenario("throughput-5ms", 5, false),
  throughputScenario("throughput-noop-seq", 0, true),
  throughputScenario("throughput-5ms-seq", 5, true),
  {
    name: "handle-update-floor",
    title: `handle-update-floor: the same ${UPDATES.toLocaleString("en-US")} updates fed to bot.handleUpdate() one after another (no HTTP, no runner), no-op middleware`,
    impls: ["floor"],
    needsServer: false,
    timeoutMs: 60_000,
    job: () => ({ kind: "handle-update-floor", updates: UPDATES, chats: CHATS }),
    metrics: [
      { key: "rate", label: "updates/s", format: int, ratio: false },
      { key: "cpu", label: "bot CPU µs/update", format: fixed(1), ratio: false },
    ],
  },
  {
    name: "get-updates-floor",
    title: `get-updates-floor: a loop of bot.api.getUpdates({ offset, limit: 100, timeout: 0 }) draining ${UPDATES.toLocaleString("en-US")} updates, no handling`,
    impls: ["floor"],
    needsServer: true,
    timeoutMs: 60_000,
    job: () => ({ kind: "get-updates-floor", updates: UPDATES, chats: CHATS }),
    metrics: [
      { key: "rate", label: "updates/s", format: int, ratio: false },
      { key: "cpu", label: "bot CPU µs/update", format: fixed(1), ratio: false },
      { key: "calls", label: "getUpdates calls/1k updates", format: fixed(1), ratio: false },
    ],
  },
  fairnessScenario(500),
  fairnessScenario(50),
  {
    name: "stop",
    title: `stop: 50 handlers of ${STOP_HANDLER_MS} ms each are running; stop is awaited 200 ms after the first started (bot.start(): await bot.stop())`,
    impls: RUNNERS,
    needsServer: true,
    timeoutMs: 30_000,
    job: () => ({ kind: "stop", handlers: 50, handlerMs: STOP_HANDLER_MS, stopAfterMs: 200 }),
    metrics: [
      {
        key: "runningAtStop",
        label: "handlers running when stop was called",
        format: int,
        ratio: false,
      },
      {
        key: "finishedAtStop",
        label: "handlers finished when stop resolved",
        format: int,
        ratio: false,
      },
      { key: "stopMs", label: "stop took ms", format: fixed(1), ratio: false },
      {
        key: "confirmedUnfinished",
        label: "confirmed to Telegram but unfinished at stop (lost on exit)",
        format: int,
        ratio: false,
      },
      {
        key: "unconfirmed",
        label: "not confirmed at stop (redelivered on restart)",
        format: int,
        ratio: false,
      },
    ],
    note: "bot.start() handles one update at a time, so only one handler is running when it is stopped.",
  },
];

function selectScenarios(): Scenario[] {
  const wanted = (flags.scenario ?? []).flatMap((s) => s.split(",")).filter((s) => s !== "");
  if (wanted.length === 0) return SCENARIOS;
  const chosen = new Set<Scenario>();
  for (const name of wanted) {
    const exact = SCENARIOS.find((s) => s.name === name);
    const matches = exact ? [exact] : SCENARIOS.filter((s) => s.name.startsWith(name));
    if (matches.length === 0) {
      console.error(
        `unknown --scenario ${name}; choose from:\n  ${SCENARIOS.map((s) => s.name).join("\n  ")}`,
      );
      process.exit(2);
    }
    for (const match of matches) chosen.add(match);
  }
  return SCENARIOS.filter((s) => chosen.has(s));
}

// === Running one measurement

type Outcome =
  | { ok: true; metrics: Metrics; forcedExit: boolean; seconds: number }
  | { ok: false; reason: string; forcedExit: boolean; seconds: number };

class RunTimeout extends Error {}

/** Extra Node.js flags for the bot processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const BOT_EXEC_ARGV = (process.env.BENCH_BOT_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");

function childOf(file: string, env?: NodeJS.ProcessEnv): ChildProcess {
  return fork(join(OUT_DIR, file), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
    execArgv: file === "bot.mjs" ? BOT_EXEC_ARGV : [],
    env: env ?? process.env,
  });
}

/** Processes of the run in progress, killed if the bench is interrupted. */
const live = new Set<ChildProcess>();

async function runOnce(scenario: Scenario, impl: Impl): Promise<Outcome> {
  const began = performance.now();
  const children: ChildProcess[] = [];
  const exits: Promise<void>[] = [];
  const track = (child: ChildProcess): ChildProcess => {
    children.push(child);
    live.add(child);
    // e.g. EPIPE when sending to a process that was just killed
    child.on("error", () => {});
    exits.push(
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once("exit", () => resolve());
      }),
    );
    return child;
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RunTimeout()), timeoutOverride ?? scenario.timeoutMs);
  });
  deadline.catch(() => {});

  let result: { ok: true; metrics: Metrics } | { ok: false; reason: string };
  let server: ChildProcess | undefined;
  let killed = false;
  try {
    let address: BotTask["server"];
    if (scenario.needsServer) {
      const srv = track(childOf("server.mjs"));
      server = srv;
      const ready = await Promise.race([
        new Promise<ServerReady>((resolve, reject) => {
          srv.on("message", (m: ServerReady) => {
            if (m.type === "ready") resolve(m);
          });
          srv.once("exit", (code) => reject(new Error(`server exited (${code}) before listening`)));
        }),
        deadline,
      ]);
      address = { url: ready.url, token: ready.token };
    }
    const task: BotTask = { impl, job: scenario.job(impl), server: address };
    const bot = track(childOf("bot.mjs", { ...process.env, [JOB_ENV]: JSON.stringify(task) }));
    server?.on("message", (m: RpcReply) => {
      if (m.type === "rpc-reply" && bot.connected) bot.send(m);
    });
    const report = await Promise.race([
      new Promise<BotReport>((resolve) => {
        bot.on("message", (m: RpcRequest | BotReport) => {
          if (m.type === "rpc") {
            if (server?.connected) server.send(m);
            else if (bot.connected)
              bot.send({ type: "rpc-reply", id: m.id, error: "no server" } satisfies RpcReply);
          } else resolve(m);
        });
        bot.once("exit", (code, signal) =>
          resolve({
            type: "error",
            message: `bot process exited (${code ?? signal}) without a report`,
          }),
        );
      }),
      deadline,
    ]);
    result =
      report.type === "result"
        ? { ok: true, metrics: report.metrics }
        : { ok: false, reason: `error: ${report.message.split("\n")[0]}` };
    if (report.type === "error") console.error(report.message);
  } catch (error) {
    result = { ok: false, reason: error instanceof RunTimeout ? "timeout" : `error: ${error}` };
    killed = true;
    for (const child of children) child.kill("SIGKILL");
  } finally {
    clearTimeout(timer);
  }

  // Clean exit: the server closes (ending the bot's keep-alive sockets) and both processes end.
  if (!killed && server?.connected) server.send({ type: "close" });
  let forcedExit = false;
  const grace = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 5_000).unref());
  if ((await Promise.race([Promise.all(exits), grace])) === "late") {
    forcedExit = true;
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all(exits);
  }
  for (const child of children) live.delete(child);
  const seconds = (performance.now() - began) / 1000;
  return { ...result, forcedExit, seconds };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill("SIGKILL");
    process.exit(130);
  });
}

// === Aggregation and tables

type Results = Map<Scenario, Map<Impl, Outcome[]>>;

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid];
  const [a, b] = [sorted[mid - 1], sorted[mid]];
  return a === b ? a : (a + b) / 2;
}

interface Cell {
  text: string;
  value?: number;
}

function summarize(outcomes: Outcome[] | undefined, metric: MetricDef): Cell {
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

function ratio(a: Cell, b: Cell): string {
  if (a.value === undefined || b.value === undefined) return "—";
  if (!Number.isFinite(a.value) || !Number.isFinite(b.value) || b.value === 0) return "—";
  const r = a.value / b.value;
  return `${r >= 0.1 || r === 0 ? r.toFixed(2) : r.toPrecision(2)}×`;
}

interface Table {
  title: string;
  head: string[];
  rows: string[][];
  note?: string;
}

function tableOf(scenario: Scenario, results: Results): Table {
  const byImpl = results.get(scenario) ?? new Map<Impl, Outcome[]>();
  const columns = [...scenario.impls, ...(scenario.na ?? [])].filter(
    (impl) => impl === "floor" || implFilter.length === 0 || implFilter.includes(impl),
  );
  const ordered = RUNNERS.filter((i) => columns.includes(i));
  if (columns.includes("floor")) ordered.push("floor");
  const ratios = (["runner", "start"] as Impl[]).filter(
    (other) => ordered.includes("ours") && ordered.includes(other) && !scenario.na?.includes(other),
  );
  const head = [
    "metric",
    ...ordered.map((i) => IMPL_LABELS[i]),
    ...ratios.map((o) => `ours / ${o === "runner" ? "runner" : "bot.start()"}`),
  ];
  const rows = scenario.metrics.map((metric) => {
    const cells = new Map<Impl, Cell>();
    for (const impl of ordered)
      cells.set(
        impl,
        scenario.na?.includes(impl) ? { text: "n/a" } : summarize(byImpl.get(impl), metric),
      );
    const ratioCells = ratios.map((other) =>
      metric.ratio ? ratio(cells.get("ours") as Cell, cells.get(other) as Cell) : "",
    );
    return [metric.label, ...ordered.map((i) => (cells.get(i) as Cell).text), ...ratioCells];
  });
  return { title: scenario.title, head, rows, note: scenario.note };
}

function overheadTable(results: Results): Table | undefined {
  const find = (name: string): Scenario | undefined => SCENARIOS.find((s) => s.name === name);
  const noop = find("throughput-noop");
  const hu = find("handle-update-floor");
  const gu = find("get-updates-floor");
  if (noop === undefined || hu === undefined || gu === undefined) return undefined;
  const cpu = THROUGHPUT_METRICS[2];
  const huCell = summarize(results.get(hu)?.get("floor"), cpu);
  const guCell = summarize(results.get(gu)?.get("floor"), cpu);
  if (huCell.value === undefined || guCell.value === undefined) return undefined;
  const floor = huCell.value + guCell.value;
  const impls = RUNNERS.filter((i) => results.get(noop)?.has(i));
  if (impls.length === 0) return undefined;
  const rows: string[][] = [];
  for (const impl of impls) {
    const c = summarize(results.get(noop)?.get(impl), cpu);
    if (c.value === undefined) continue;
    rows.push([
      IMPL_LABELS[impl],
      c.value.toFixed(1),
      guCell.value.toFixed(1),
      huCell.value.toFixed(1),
      (c.value - floor).toFixed(1),
      `${((100 * (c.value - floor)) / c.value).toFixed(0)} %`,
    ]);
  }
  return {
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
  };
}

function renderText(table: Table): string {
  const widths = table.head.map((h, i) =>
    Math.max(h.length, ...table.rows.map((r) => (r[i] ?? "").length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [table.title, line(table.head), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const row of table.rows) out.push(line(row));
  if (table.note) out.push(`note: ${table.note}`);
  return out.join("\n");
}

function renderMarkdown(table: Table): string {
  const row = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  const out = [
    `### ${table.title}`,
    "",
    row(table.head),
    row(table.head.map((_, i) => (i === 0 ? "---" : "---:"))),
  ];
  for (const r of table.rows) out.push(row(r));
  if (table.note) out.push("", table.note);
  return out.join("\n");
}

// === Main

function machine(): string[] {
  const cpus = os.cpus();
  return [
    `CPU: ${cpus[0]?.model ?? "unknown"}, ${cpus.length} cores`,
    `memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `Node.js: ${process.version}`,
    `date: ${new Date().toISOString()}`,
  ];
}

function commandLine(): string {
  const args = process.argv.slice(2).join(" ");
  if (process.env.npm_lifecycle_event === "bench")
    return `npm run bench${args === "" ? "" : ` -- ${args}`}`;
  return `node bench/run.mjs${args === "" ? "" : ` ${args}`}`;
}

async function main(): Promise<void> {
  const scenarios = selectScenarios();
  const results: Results = new Map();
  const started = performance.now();
  const failures: string[] = [];
  const forced: string[] = [];
  console.error(
    `bench: ${scenarios.length} scenario(s), ${rounds} round(s)${quick ? ", quick" : ""}; each run is a fresh bot process next to a fresh fake-server process`,
  );
  for (const scenario of scenarios) {
    const impls = scenario.impls.filter(
      (impl) => impl === "floor" || implFilter.length === 0 || implFilter.includes(impl),
    );
    const byImpl = new Map<Impl, Outcome[]>();
    results.set(scenario, byImpl);
    for (let round = 1; round <= rounds; round++) {
      for (const impl of impls) {
        const outcome = await runOnce(scenario, impl);
        const list = byImpl.get(impl) ?? [];
        list.push(outcome);
        byImpl.set(impl, list);
        const status = outcome.ok ? "ok" : outcome.reason;
        const where = `${scenario.name} round ${round} ${IMPL_LABELS[impl]}`;
        if (!outcome.ok) failures.push(`${where}: ${outcome.reason}`);
        if (outcome.forcedExit) forced.push(where);
        console.error(
          `  ${scenario.name.padEnd(20)} round ${round}/${rounds}  ${IMPL_LABELS[impl].padEnd(17)} ${outcome.seconds.toFixed(1).padStart(5)} s  ${status}${outcome.forcedExit ? " (killed after the run: did not exit)" : ""}`,
        );
      }
    }
  }
  const totalSeconds = (performance.now() - started) / 1000;

  const tables = scenarios.map((s) => tableOf(s, results));
  const overhead = overheadTable(results);
  if (overhead !== undefined) tables.push(overhead);

  console.log();
  for (const table of tables) console.log(`${renderText(table)}\n`);
  if (failures.length > 0) console.log(`failed runs:\n  ${failures.join("\n  ")}\n`);
  if (forced.length > 0)
    console.log(`runs whose processes had to be killed afterwards:\n  ${forced.join("\n  ")}\n`);
  console.log(`total ${totalSeconds.toFixed(0)} s`);

  const out = flags.out ?? join(BENCH_DIR, "RESULTS.md");
  if (out === "-") return;
  const md = [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (bench/main.ts); rerun to refresh.",
    "",
    ...machine().map((l) => `- ${l}`),
    `- command: \`${commandLine()}\``,
    `- rounds: ${rounds} (medians shown), total time ${totalSeconds.toFixed(0)} s`,
    "",
    "Each run is a fresh Node.js process driving a real grammY `Bot` (grammY " +
      "`bot.start()`, `@grammyjs/runner` 2.0.3 `run()` or grammy-runner `run()`) against the " +
      "fake Bot API server of `grammy-runner/testing`, itself in a separate process, over " +
      "loopback HTTP. Implementations alternate A B C A B C. Throughput is measured from the " +
      "first getUpdates call to the last handler done, with every update already waiting on " +
      "the server; CPU is the bot process's `process.cpuUsage()` (user + system) over that " +
      "span; RSS is the bot process's peak. Ratios are ours / other (for updates/s higher is " +
      "better; for CPU, RSS, calls and latencies lower is better). Wall-clock rates move by up " +
      "to ±20 % between runs on a busy 2-core machine; CPU µs/update is the steadier figure.",
    "",
    ...tables.flatMap((t) => [renderMarkdown(t), ""]),
    ...(failures.length > 0 ? ["Failed runs:", "", ...failures.map((f) => `- ${f}`), ""] : []),
    ...(forced.length > 0
      ? ["Processes killed after the run (did not exit):", "", ...forced.map((f) => `- ${f}`), ""]
      : []),
  ].join("\n");
  writeFileSync(out, md);
  console.log(`wrote ${out}`);
}

await main();
