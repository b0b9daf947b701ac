/** throughput-*: a backlog waiting on the server, drained by each implementation. */
import { ALL_IMPLS, options } from "../args.js";
import {
  BOT_CPU,
  CALLS,
  int,
  type MetricDef,
  metric,
  PEAK_RSS,
  RATE,
  type Scenario,
} from "./scenario.js";

const { quick } = options;

/** The backlog of the throughput scenarios (and of the floors they are compared with). */
export const UPDATES = options.updates ?? (quick ? 4_000 : 20_000);
export const CHATS = quick ? 200 : 1_000;
/** bot.start() handles one update at a time: 20,000 × 5 ms would take 100 s. */
const SEQUENTIAL_SLOW_UPDATES = quick ? 200 : 1_000;

export const THROUGHPUT_METRICS: MetricDef[] = [
  metric("updates", "updates handled", int),
  RATE,
  BOT_CPU,
  PEAK_RSS,
  CALLS,
];

export function throughputScenario(name: string, delayMs: number, seq: boolean): Scenario {
  const handler = delayMs === 0 ? "no-op handler" : `handler awaits ${delayMs} ms`;
  return {
    name,
    title: `${name}: ${int(UPDATES)} updates over ${int(CHATS)} chats, ${handler}${seq ? ", sequentialize(chat id)" : ""}`,
    impls: ALL_IMPLS,
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
        ? `bot.start() handles one update at a time, so it gets ${int(SEQUENTIAL_SLOW_UPDATES)} updates here; compare rates. `
        : "") + (seq ? "bot.start() runs without sequentialize (it is sequential anyway). " : ""),
  };
}
