/** memory-*: heap and RSS per update held in flight, running or waiting for its turn. */
import { options } from "../args.js";
import { int, type MetricDef, metric, PEAK_RSS, type Scenario } from "./scenario.js";

/** No more than grammy-runner's default sink.maxParked, which bounds memory-waiting's parked updates. */
const MEMORY_UPDATES = options.quick ? 1_000 : 5_000;
/** Time for the last batch to be parked and the next getUpdates to go out before the reading. */
const MEMORY_SETTLE_MS = 200;

const MEMORY_METRICS: MetricDef[] = [
  metric("heap", "heap per in-flight update, bytes", int, true),
  metric("rss", "RSS per in-flight update, bytes", int, true),
  { ...PEAK_RSS, key: "peakRss" },
  metric("inFlight", "updates in flight when measured", int),
  metric("running", "handlers running when measured", int),
];

const RUNNING_NOTE =
  "Heap is `process.memoryUsage().heapUsed` and RSS `.rss` of the bot process (run with --expose-gc), each read after two forced full GCs: " +
  "once after bot.init(), before the runner starts (no getUpdates yet), and once every update has reached the first middleware " +
  `(a counter in front of everything else) and ${MEMORY_SETTLE_MS} ms more have passed, while the handlers still await a promise released only after the reading. ` +
  "Per update = (after − before) / updates in flight: the update, grammY's context and middleware frames and the runner's bookkeeping, plus one-off costs (compiled code, the runner's own state) spread over the updates. " +
  "RSS per update moves by several KB between runs (freed heap pages are not always returned to the OS): heap is the steadier figure. " +
  "Peak RSS is the process's maxRSS at the reading. bot.start() is n/a: it handles one update at a time.";

const WAITING_NOTE =
  "Measured as in memory-running; the counter is in front of sequentialize, so updates waiting for their turn are counted. " +
  "grammy-runner parks the waiting updates (they give their slot back; sink.maxParked, default 5,000, bounds how many); @grammyjs/runner's updates wait inside sequentialize holding their slot.";

/** `oneChat`: the updates wait for their turn behind sequentialize instead of running. */
export function memoryScenario(oneChat: boolean): Scenario {
  const name = oneChat ? "memory-waiting" : "memory-running";
  const n = int(MEMORY_UPDATES);
  const held = oneChat
    ? `${n} updates in one chat behind sequentialize(chat id): one handler runs (awaiting a release), the rest wait for their turn`
    : `${n} updates, a chat each: all ${n} handlers run at once, awaiting a release`;
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
    note: oneChat ? WAITING_NOTE : RUNNING_NOTE,
  };
}
