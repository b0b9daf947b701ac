/** workers-cpu*: CPU-bound handlers in distribute() worker threads, 1 and 2 of them. */
import os from "node:os";
import { options } from "../args.js";
import { CALLS, fixed, int, type MetricDef, metric, RATE, type Scenario } from "./scenario.js";

const WORKER_UPDATES = options.quick ? 600 : 3_000;
const WORKER_CHATS = 300;
const WORKER_MS = 1;
const WORKER_WARMUP = 20;

const WORKER_METRICS: MetricDef[] = [
  metric("updates", "updates handled (measured)", int),
  RATE,
  metric("workMs", "handler work ms/update (calibrated)", fixed(2)),
  metric("cores", "handler work done per second (cores' worth)", fixed(2), true),
  metric("cpu", "CPU µs/update, all threads", fixed(0), true),
  metric("central", "central event loop busy %", fixed(0), true),
  CALLS,
];

const NOTE =
  "×N = distribute(workerFile, { count: N }); each worker file creates its library's BotWorker whose handler hashes for the calibrated number of rounds (calibrated once per run in the bot process, passed to the threads through their environment). " +
  `${WORKER_WARMUP} warm-up updates (their own chats) start the threads first; the time runs from pushing the measured batch (the runner is long-polling) to its last update handled. ` +
  "Bare threads: the same work in plain worker_threads fed round-robin by the main thread (no grammY, no HTTP), i.e. what the machine allows at that moment. " +
  "Handler work done per second = updates/s × calibrated ms/update, which cancels calibration noise. " +
  "CPU is `process.cpuUsage()` of the whole bot process (central thread + workers); central busy % is the central thread's event-loop utilization. " +
  "grammy-runner routes by chat (hash, per-chat order kept); @grammyjs/runner by update_id % count (no order). @grammyjs/runner's distribute() has no close and its threads stay referenced, so its bot process exits with process.exit() after reporting. " +
  `Target: ours 2 / 1 ≥ 1.6 for updates/s on this ${os.cpus().length}-core machine, where the fake server and the central thread share the cores with the workers.`;

/**
 * `uncapped`: the central run()'s sink concurrency covers the whole backlog,
 * so it fetches everything in full batches instead of one getUpdates call per
 * freed slot once the default cap (500) is reached.
 */
export function workersScenario(uncapped: boolean): Scenario {
  const name = uncapped ? "workers-cpu-uncapped" : "workers-cpu";
  const concurrency = uncapped ? WORKER_UPDATES + WORKER_WARMUP : undefined;
  const central =
    concurrency === undefined
      ? "central bot: run() with default options (sink concurrency 500)"
      : `central bot: run() with sink concurrency ${int(concurrency)} (the whole backlog)`;
  return {
    name,
    title: `${name}: ${int(WORKER_UPDATES)} updates over ${WORKER_CHATS} chats, each ~${WORKER_MS} ms of synchronous CPU (sha256 rounds) in distribute() worker threads; ${central}`,
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
    note: NOTE,
  };
}
