/**
 * The benchmark orchestrator: `npm run bench [-- --quick] [--rounds N]
 * [--scenario NAME[,NAME]] [--impl ours,ours-http,runner,start]`.
 *
 * Every measured run is a fresh bot process (`bot.ts`) next to a fresh fake
 * Bot API server process (`server.ts`); implementations alternate A B C A B C
 * for N rounds and the tables show medians. Results also go to
 * `bench/RESULTS.md`.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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
/** The throughput scenarios also measure ours with `runner: { transport: "node-http" }`. */
const THROUGHPUT_IMPLS: Impl[] = ["ours", "ours-http", "runner", "start"];
/** Every implementation --impl accepts, in column order. */
const ALL_IMPLS: Impl[] = THROUGHPUT_IMPLS;

// === Options

const USAGE = `Usage: npm run bench -- [options]

  --quick              fewer updates, shorter handlers (a smoke run)
  --rounds N           rounds per scenario (default 3); implementations alternate A B C A B C
  --scenario NAMES     comma-separated names or prefixes (e.g. "throughput", "fairness"); repeatable
  --impl NAMES         comma-separated subset of ${ALL_IMPLS.join(", ")}
                       (ours-http: ours with runner.transport "node-http"; throughput scenarios only)
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
  if (!ALL_IMPLS.includes(name as Impl)) {
    console.error(`unknown --impl ${name}; choose from ${ALL_IMPLS.join(", ")}`);
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

/** One column of a scenario's table: an implementation, possibly in a variant (journal, workers). */
interface Column {
  /** Key of the column's results; the implementation's name for plain columns. */
  id: string;
  impl: Impl;
  label: string;
  /** Shown as n/a, not run. */
  na?: boolean;
}

/** An `a / b` column, e.g. "ours / runner". */
interface RatioDef {
  label: string;
  a: string;
  b: string;
}

interface Scenario {
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
    impls: THROUGHPUT_IMPLS,
    needsServer: true,
    timeoutMs: quick ? 45_000 : 90_000,
    job: ({ impl }) => ({
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
        : "") +
      (seq ? "bot.start() runs without sequentialize (it is sequential anyway). " : "") +
      "grammy-runner (node-http) is run(bot, { runner: { transport: \"node-http\" } }): getUpdates goes over plain node:http instead of grammY's client, so its calls are counted (and the clock and CPU start) when node:http creates the first getUpdates request rather than in grammY's API transformer.",
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

/**
 * Enough for the journal's log (about 190 bytes an update here) to pass the
 * default compactBytes (8 MiB), so that compaction is part of the cost, and
 * for both runs to be past their warm-up.
 */
const JOURNAL_UPDATES = quick ? UPDATES : 60_000;
/** What the journal writes for one batch of 100 here, settle record included (measured: 20.9 KB). */
const JOURNAL_BATCH_BYTES = 20_900;

const JOURNAL_METRICS: MetricDef[] = [
  ...THROUGHPUT_METRICS,
  { key: "wallPerUpdate", label: "wall µs/update", format: fixed(2), ratio: true },
  {
    key: "syncFloor",
    label: "write + fdatasync of one batch (20.9 KB), µs p50",
    format: fixed(0),
    ratio: false,
  },
];

function journalScenario(delayMs: number): Scenario {
  const name = `journal-${delayMs === 0 ? "noop" : `${delayMs}ms`}`;
  const handler = delayMs === 0 ? "no-op handler" : `handler awaits ${delayMs} ms`;
  return {
    name,
    title: `${name}: ${JOURNAL_UPDATES.toLocaleString("en-US")} updates over ${CHATS.toLocaleString("en-US")} chats, ${handler}; grammy-runner run() with and without journal: fileJournal(fresh temp dir)`,
    impls: ["ours", "runner"],
    columns: [
      { id: "ours", impl: "ours", label: "grammy-runner" },
      { id: "ours-journal", impl: "ours", label: "grammy-runner + fileJournal" },
      { id: "runner", impl: "runner", label: "@grammyjs/runner" },
    ],
    ratios: [
      { label: "journal / no journal", a: "ours-journal", b: "ours" },
      { label: "ours / runner (no journal)", a: "ours", b: "runner" },
    ],
    needsServer: true,
    timeoutMs: quick ? 45_000 : 90_000,
    job: ({ id }) => ({
      kind: "throughput",
      updates: JOURNAL_UPDATES,
      chats: CHATS,
      delayMs,
      seq: false,
      journal: id === "ours-journal",
      syncFloorBytes: JOURNAL_BATCH_BYTES,
    }),
    metrics: JOURNAL_METRICS,
    note: `The journal directory is a fresh \`mkdtemp\` under ${os.tmpdir()} (same disk as the rest), removed after the run; every fetched batch is written and fsynced before the next getUpdates confirms it, and ${quick ? "the log stays under the default compactBytes (8 MiB), so no compaction is included" : "the log passes the default compactBytes (8 MiB) once, so one compaction is included"}. Target: journal / no journal ≥ 0.70 for updates/s. @grammyjs/runner (no journal) is for context. Each bot process first times writing one batch's bytes into preallocated space on the same disk and fdatasyncing them, 200 times 1 ms apart: the least a batch of 100 costs with a journal, against the journal's extra wall time per update (the difference in "wall µs/update", times 100).`,
  };
}

const WORKER_UPDATES = quick ? 600 : 3_000;
const WORKER_CHATS = 300;
const WORKER_MS = 1;

const WORKER_METRICS: MetricDef[] = [
  { key: "updates", label: "updates handled (measured)", format: int, ratio: false },
  { key: "rate", label: "updates/s", format: int, ratio: true },
  { key: "workMs", label: "handler work ms/update (calibrated)", format: fixed(2), ratio: false },
  {
    key: "cores",
    label: "handler work done per second (cores' worth)",
    format: fixed(2),
    ratio: true,
  },
  { key: "cpu", label: "CPU µs/update, all threads", format: fixed(0), ratio: true },
  { key: "central", label: "central event loop busy %", format: fixed(0), ratio: true },
  { key: "calls", label: "getUpdates calls/1k updates", format: fixed(1), ratio: true },
];

const WORKER_WARMUP = 20;

/**
 * `uncapped`: the central run()'s sink concurrency covers the whole backlog,
 * so it fetches everything in full batches instead of one getUpdates call per
 * freed slot once the default cap (500) is reached.
 */
function workersScenario(uncapped: boolean): Scenario {
  const name = uncapped ? "workers-cpu-uncapped" : "workers-cpu";
  const concurrency = uncapped ? WORKER_UPDATES + WORKER_WARMUP : undefined;
  const central =
    concurrency === undefined
      ? "central bot: run() with default options (sink concurrency 500)"
      : `central bot: run() with sink concurrency ${concurrency.toLocaleString("en-US")} (the whole backlog)`;
  return {
    name,
    title: `${name}: ${WORKER_UPDATES.toLocaleString("en-US")} updates over ${WORKER_CHATS} chats, each ~${WORKER_MS} ms of synchronous CPU (sha256 rounds) in distribute() worker threads; ${central}`,
    impls: ["ours", "runner"],
    columns: [
      { id: "ours-1", impl: "ours", label: "grammy-runner ×1" },
      { id: "ours-2", impl: "ours", label: "grammy-runner ×2" },
      { id: "runner-1", impl: "runner", label: "@grammyjs/runner ×1" },
      { id: "runner-2", impl: "runner", label: "@grammyjs/runner ×2" },
      { id: "floor-1", impl: "floor", label: "bare threads ×1" },
      { id: "floor-2", impl: "floor", label: "bare threads ×2" },
    ],
    ratios: [
      { label: "ours 2 / 1", a: "ours-2", b: "ours-1" },
      { label: "runner 2 / 1", a: "runner-2", b: "runner-1" },
      { label: "bare 2 / 1", a: "floor-2", b: "floor-1" },
      { label: "ours / runner ×2", a: "ours-2", b: "runner-2" },
    ],
    needsServer: true,
    timeoutMs: 60_000,
    job: ({ id }) => ({
      kind: "workers",
      updates: WORKER_UPDATES,
      chats: WORKER_CHATS,
      count: id.endsWith("-2") ? 2 : 1,
      workMs: WORKER_MS,
      warmup: WORKER_WARMUP,
      concurrency,
    }),
    metrics: WORKER_METRICS,
    note:
      "×N = distribute(workerFile, { count: N }); each worker file creates its library's BotWorker whose handler hashes for the calibrated number of rounds (calibrated once per run in the bot process, passed to the threads through their environment). " +
      `${WORKER_WARMUP} warm-up updates (their own chats) start the threads first; the time runs from pushing the measured batch (the runner is long-polling) to its last update handled. ` +
      "Bare threads: the same work in plain worker_threads fed round-robin by the main thread (no grammY, no HTTP), i.e. what the machine allows at that moment. " +
      "Handler work done per second = updates/s × calibrated ms/update, which cancels calibration noise. " +
      "CPU is `process.cpuUsage()` of the whole bot process (central thread + workers); central busy % is the central thread's event-loop utilization. " +
      "grammy-runner routes by chat (hash, per-chat order kept); @grammyjs/runner by update_id % count (no order). @grammyjs/runner's distribute() has no close and its threads stay referenced, so its bot process exits with process.exit() after reporting. " +
      `Target: ours 2 / 1 ≥ 1.6 for updates/s on this ${os.cpus().length}-core machine, where the fake server and the central thread share the cores with the workers.`,
  };
}

/** No more than grammy-runner's default sink.maxParked, which bounds memory-waiting's parked updates. */
const MEMORY_UPDATES = quick ? 1_000 : 5_000;
/** Time for the last batch to be parked and the next getUpdates to go out before the reading. */
const MEMORY_SETTLE_MS = 200;

const MEMORY_METRICS: MetricDef[] = [
  { key: "heap", label: "heap per in-flight update, bytes", format: int, ratio: true },
  { key: "rss", label: "RSS per in-flight update, bytes", format: int, ratio: true },
  { key: "peakRss", label: "bot peak RSS MB", format: fixed(0), ratio: true },
  { key: "inFlight", label: "updates in flight when measured", format: int, ratio: false },
  { key: "running", label: "handlers running when measured", format: int, ratio: false },
];

/** `oneChat`: the updates wait for their turn behind sequentialize instead of running. */
function memoryScenario(oneChat: boolean): Scenario {
  const name = oneChat ? "memory-waiting" : "memory-running";
  const n = MEMORY_UPDATES.toLocaleString("en-US");
  const held = oneChat
    ? `${n} updates in one chat behind sequentialize(chat id): one handler runs (awaiting a release), the rest wait for their turn`
    : `${n} updates, a chat each: all ${n} handlers run at once, awaiting a release`;
  const note = oneChat
    ? "Measured as in memory-running; the counter is in front of sequentialize, so updates waiting for their turn are counted. " +
      "grammy-runner parks the waiting updates (they give their slot back; sink.maxParked, default 5,000, bounds how many); @grammyjs/runner's updates wait inside sequentialize holding their slot."
    : "Heap is `process.memoryUsage().heapUsed` and RSS `.rss` of the bot process (run with --expose-gc), each read after two forced full GCs: " +
      "once after bot.init(), before the runner starts (no getUpdates yet), and once every update has reached the first middleware " +
      `(a counter in front of everything else) and ${MEMORY_SETTLE_MS} ms more have passed, while the handlers still await a promise released only after the reading. ` +
      "Per update = (after − before) / updates in flight: the update, grammY's context and middleware frames and the runner's bookkeeping, plus one-off costs (compiled code, the runner's own state) spread over the updates. " +
      "RSS per update moves by several KB between runs (freed heap pages are not always returned to the OS): heap is the steadier figure. " +
      "Peak RSS is the process's maxRSS at the reading. bot.start() is n/a: it handles one update at a time.";
  return {
    name,
    title: `${name}: ${held}; sink concurrency ${n}`,
    impls: ["ours", "runner"],
    na: ["start"],
    needsServer: true,
    botNodeArgs: ["--expose-gc"],
    timeoutMs: 60_000,
    job: () => ({
      kind: "memory",
      updates: MEMORY_UPDATES,
      oneChat,
      settleMs: MEMORY_SETTLE_MS,
    }),
    metrics: MEMORY_METRICS,
    note,
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
  journalScenario(0),
  journalScenario(5),
  workersScenario(false),
  workersScenario(true),
  memoryScenario(false),
  memoryScenario(true),
];

/** The scenario's columns in table order, those excluded by --impl left out. */
function columnsOf(scenario: Scenario): Column[] {
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
  return columns.filter(
    (c) => c.impl === "floor" || implFilter.length === 0 || implFilter.includes(c.impl),
  );
}

function ratiosOf(scenario: Scenario, columns: Column[]): RatioDef[] {
  const has = (id: string): boolean => columns.some((c) => c.id === id && c.na !== true);
  const ratios = scenario.ratios ?? [
    ...(["runner", "start"] as const).map((other) => ({
      label: `ours / ${other === "runner" ? "runner" : "bot.start()"}`,
      a: "ours",
      b: other,
    })),
    { label: "ours-http / runner", a: "ours-http", b: "runner" },
  ];
  return ratios.filter((r) => has(r.a) && has(r.b));
}

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

function childOf(file: string, env?: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
  return fork(join(OUT_DIR, file), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
    execArgv: file === "bot.mjs" ? [...BOT_EXEC_ARGV, ...nodeArgs] : [],
    env: env ?? process.env,
  });
}

/** Processes of the run in progress, killed if the bench is interrupted. */
const live = new Set<ChildProcess>();

async function runOnce(scenario: Scenario, column: Column): Promise<Outcome> {
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
    const task: BotTask = { impl: column.impl, job: scenario.job(column), server: address };
    const env = { ...process.env, [JOB_ENV]: JSON.stringify(task) };
    const bot = track(childOf("bot.mjs", env, scenario.botNodeArgs));
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

/** Outcomes by scenario and column id. */
type Results = Map<Scenario, Map<string, Outcome[]>>;

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
  /** The scenario's name; sections of RESULTS.md are replaced by this key. */
  key: string;
  title: string;
  head: string[];
  rows: string[][];
  note?: string;
}

function tableOf(scenario: Scenario, results: Results): Table {
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

const OVERHEAD_KEY = "runner-overhead";

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

function overheadTable(results: Results, previous: Section[]): Table | undefined {
  const find = (name: string): Scenario | undefined => SCENARIOS.find((s) => s.name === name);
  const noop = find("throughput-noop");
  const hu = find("handle-update-floor");
  const gu = find("get-updates-floor");
  if (noop === undefined || hu === undefined || gu === undefined) return undefined;
  const cpu = THROUGHPUT_METRICS[2];
  /** Measured now, or else as RESULTS.md has it. */
  const borrowed: string[] = [];
  const floorOf = (scenario: Scenario): number | undefined => {
    const now = summarize(results.get(scenario)?.get("floor"), cpu).value;
    if (now !== undefined) return now;
    const before = previousFloor(previous, scenario);
    if (before !== undefined) borrowed.push(`${scenario.name} (measured ${before.date})`);
    return before?.value;
  };
  const huCell = { value: floorOf(hu) };
  const guCell = { value: floorOf(gu) };
  if (huCell.value === undefined || guCell.value === undefined) return undefined;
  const floor = huCell.value + guCell.value;
  const impls = THROUGHPUT_IMPLS.filter((i) => results.get(noop)?.has(i));
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
      `The floors run in processes of their own (each pays its own warm-up and keeps its ${UPDATES.toLocaleString("en-US")} updates alive), so their sum can exceed a lean implementation's end-to-end cost: read values within ±1.5 µs of 0 as no overhead. ` +
      "getUpdates-only is grammY's client (bot.api.getUpdates), so for grammy-runner (node-http), which sends getUpdates without it, the overhead also counts what node:http saves against grammY's client (negative: cheaper)." +
      (borrowed.length > 0
        ? ` Not measured by this run, taken from the previous RESULTS.md: ${borrowed.join(", ")}.`
        : ""),
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
  const widths = table.head.map((h, i) =>
    Math.max(3, h.length, ...table.rows.map((r) => (r[i] ?? "").length)),
  );
  const row = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
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

// === RESULTS.md: one section per scenario, replaced by the runs that measure it

/** Marks the start of a section: `<!-- section: NAME -->`. */
const SECTION_MARK = /^<!-- section: ([\w.-]+) -->$/;

interface Section {
  key: string;
  /** Markdown from the marker (or the `###` title) up to the next section. */
  text: string;
}

/**
 * The sections of an existing RESULTS.md. Files written before the markers
 * existed are split at their `### name: …` titles, and their sections get the
 * old header's run line (date, command, rounds), which a merge would lose.
 */
function readSections(file: string): Section[] {
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
      const title = line.slice(4);
      const key = title.startsWith("runner overhead")
        ? OVERHEAD_KEY
        : (/^([\w.-]+):/.exec(title)?.[1] ?? title);
      current = { key, lines: [`<!-- section: ${key} -->`, line], legacy: true };
    } else current?.lines.push(line);
  }
  finish();
  return sections;
}

function runLine(date: string, command: string, rounds: number | string): string {
  return `<sub>Measured ${date} by \`${command}\`, ${rounds} round(s), medians.</sub>`;
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
  /** Failed and force-killed runs by scenario name, for RESULTS.md. */
  const problems = new Map<string, string[]>();
  console.error(
    `bench: ${scenarios.length} scenario(s), ${rounds} round(s)${quick ? ", quick" : ""}; each run is a fresh bot process next to a fresh fake-server process`,
  );
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
        const status = outcome.ok ? "ok" : outcome.reason;
        const where = `${scenario.name} round ${round} ${column.label}`;
        const noted = problems.get(scenario.name) ?? [];
        problems.set(scenario.name, noted);
        if (!outcome.ok) {
          failures.push(`${where}: ${outcome.reason}`);
          noted.push(`failed: ${where}: ${outcome.reason}`);
        }
        if (outcome.forcedExit) {
          forced.push(where);
          noted.push(`killed after the run (did not exit): ${where}`);
        }
        console.error(
          `  ${scenario.name.padEnd(20)} round ${round}/${rounds}  ${column.label.padEnd(27)} ${outcome.seconds.toFixed(1).padStart(5)} s  ${status}${outcome.forcedExit ? " (killed after the run: did not exit)" : ""}`,
        );
      }
    }
  }
  const totalSeconds = (performance.now() - started) / 1000;

  const out = flags.out ?? join(BENCH_DIR, "RESULTS.md");
  const previous = readSections(out === "-" ? join(BENCH_DIR, "RESULTS.md") : out);
  const tables = scenarios.map((s) => tableOf(s, results));
  const overhead = overheadTable(results, previous);
  if (overhead !== undefined) tables.push(overhead);

  console.log();
  for (const table of tables) console.log(`${renderText(table)}\n`);
  if (failures.length > 0) console.log(`failed runs:\n  ${failures.join("\n  ")}\n`);
  if (forced.length > 0)
    console.log(`runs whose processes had to be killed afterwards:\n  ${forced.join("\n  ")}\n`);
  console.log(`total ${totalSeconds.toFixed(0)} s`);

  if (out === "-") return;
  const date = new Date().toISOString();
  const fresh: Section[] = tables.map((table) => {
    const noted = problems.get(table.key) ?? [];
    const lines = [`<!-- section: ${table.key} -->`, renderMarkdown(table), ""];
    if (noted.length > 0) lines.push(...noted.map((n) => `- ${n}`), "");
    lines.push(runLine(date, commandLine(), rounds));
    return { key: table.key, text: lines.join("\n") };
  });
  const sections = mergeSections(previous, fresh);
  const md = [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (bench/main.ts). A run replaces the sections of the scenarios " +
      "it measured and keeps the others (`--scenario NAME` refreshes one); each section says " +
      "when and how it was measured.",
    "",
    ...machine()
      .filter((l) => !l.startsWith("date:"))
      .map((l) => `- ${l}`),
    `- last run: ${date}, \`${commandLine()}\`, ${rounds} round(s), ${totalSeconds.toFixed(0)} s`,
    "",
    "Each run is a fresh Node.js process driving a real grammY `Bot` (grammY " +
      "`bot.start()`, `@grammyjs/runner` 2.0.3 `run()` or grammy-runner `run()`) against the " +
      "fake Bot API server of `grammy-runner/testing`, itself in a separate process, over " +
      "loopback HTTP; the throughput scenarios also measure grammy-runner `run()` with " +
      '`runner: { transport: "node-http" }` (getUpdates over plain node:http). ' +
      "Implementations alternate A B C A B C. Throughput is measured from the " +
      "first getUpdates call to the last handler done, with every update already waiting on " +
      "the server; CPU is the bot process's `process.cpuUsage()` (user + system) over that " +
      "span; RSS is the bot process's peak. Ratios are a / b as labelled, mostly ours / other " +
      "(for updates/s higher is better; for CPU, RSS, calls and latencies lower is better). " +
      "Wall-clock rates move by up to ±20 % between runs on a busy 2-core machine; CPU " +
      "µs/update is the steadier figure.",
    "",
    ...sections.flatMap((section) => [section.text, ""]),
  ].join("\n");
  writeFileSync(out, md);
  console.log(`wrote ${out}`);
}

await main();
