/** fairness-c*: one chat floods, then quiet chats must not wait behind it. */
import { options } from "../args.js";
import { CALLS, fixed, int, type MetricDef, metric, type Scenario } from "./scenario.js";

const { quick } = options;
const FLOOD = quick ? 500 : 2_000;
const QUIET_GROUPS = quick ? 10 : 20;
const QUIET_PER_GROUP = 10;
const QUIET_INTERVAL_MS = quick ? 10 : 5;
const FAIRNESS_CAP_MS = quick ? 10_000 : 30_000;

export const FAIRNESS_METRICS: MetricDef[] = [
  metric("p50", "quiet chats: push → handler start p50 ms", fixed(1), true),
  metric("p99", "quiet chats: push → handler start p99 ms", fixed(1), true),
  metric("quietStarted", "quiet updates started within the cap", int),
  metric("inOrder", "flood chat strictly in order", String),
  CALLS,
];

export function fairnessScenario(concurrency: number): Scenario {
  const quiet = QUIET_GROUPS * QUIET_PER_GROUP;
  return {
    name: `fairness-c${concurrency}`,
    title: `fairness-c${concurrency}: sink concurrency ${concurrency}, sequentialize(chat id), 10 ms handlers; one chat floods ${int(FLOOD)}, then ${quiet} quiet chats send 1 each (${QUIET_GROUPS} groups over ~${(QUIET_GROUPS - 1) * QUIET_INTERVAL_MS} ms)`,
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
