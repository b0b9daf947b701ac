/**
 * webhook-*: grammy-runner's webhook() against grammY's webhookCallback with
 * @grammyjs/runner's sequentialize, both fed by the fake server's
 * Telegram-like webhook delivery (Telegram's 60 s timeout, 40 connections).
 */
import { options } from "../args.js";
import { FAIRNESS_METRICS } from "./fairness.js";
import { fixed, int, type MetricDef, metric, RATE, type Scenario } from "./scenario.js";

const { quick } = options;

const OURS = { id: "ours", impl: "ours", label: "grammy-runner webhook()" } as const;
const GRAMMY = {
  id: "runner",
  impl: "runner",
  label: "grammY webhookCallback",
} as const;
const RATIO = [{ label: "ours / grammY", a: "ours", b: "runner" }];
const RESENDS = metric("resends", "Telegram re-sends", int);

const base = { quietGroups: 0, quietPerGroup: 0, quietIntervalMs: 0 };

function floodScenario(): Scenario {
  const flood = quick ? 500 : 2_000;
  const groups = quick ? 10 : 20;
  // The fairness rows but getUpdates calls, which a webhook makes none of.
  const metrics: MetricDef[] = [
    ...FAIRNESS_METRICS.filter((m) => m.key !== "calls"),
    RESENDS,
    metric("maxConnections", "Telegram connections open at once, most (of 40)", int),
    metric("cpuPerUpdate", "bot CPU ms per update handled until the last quiet start", fixed(2)),
    metric("pushToAppendP99", "journal: quiet push → append p99 ms", fixed(1)),
    metric("appendToStartP99", "journal: quiet append → handler start p99 ms", fixed(1)),
    metric("appendToStoredP99", "journal: quiet append → durable (answer) p99 ms", fixed(1)),
    metric("fsyncP50", "journal: fdatasync on its disk before the run, p50 ms", fixed(2)),
    metric("fsyncP99", "journal: fdatasync on its disk before the run, p99 ms", fixed(2)),
  ];
  return {
    name: "webhook-flood",
    title: `webhook-flood: one chat floods ${int(flood)}, then ${groups * 10} quiet chats send 1 each; sequentialize(chat id) (grammY: @grammyjs/runner's), 10 ms handlers, default settings`,
    impls: ["ours", "runner"],
    columns: [
      OURS,
      { id: "ours-journal", impl: "ours", label: "grammy-runner webhook() + fileJournal" },
      GRAMMY,
    ],
    ratios: RATIO,
    needsServer: true,
    timeoutMs: 120_000,
    job: (column) => ({
      kind: "webhook",
      mode: "flood",
      journal: column.id === "ours-journal",
      updates: flood,
      chats: 1,
      quietGroups: groups,
      quietPerGroup: 10,
      quietIntervalMs: 5,
      handlerMs: 10,
      capMs: 30_000,
    }),
    metrics,
    note: "Telegram sends a chat's next update only after the previous one was answered, so the flood arrives one at a time in every column (with fileJournal each is answered once stored instead of once handled); the quiet chats' updates compete for Telegram's 40 connections. Latency is measured on a clock shared by both processes. The journal rows split the fileJournal column at the append: before it, the wait for one of Telegram's connections, each held until its request's append is durable (1 to 2 journal rounds, whose fsyncs run one after another); after it, the handler starts without waiting for an fsync. The fdatasync rows time 50 small synced writes on the journal's disk just before the run: the latency follows the disk.",
  };
}

function slowScenario(): Scenario {
  const windowMs = quick ? 25_000 : 35_000;
  return {
    name: "webhook-slow",
    title: `webhook-slow: 20 updates in 20 chats, handlers take 15 s, default settings; re-sends counted for ${windowMs / 1000} s`,
    impls: ["ours", "runner"],
    columns: [OURS, GRAMMY],
    ratios: [],
    needsServer: true,
    timeoutMs: windowMs + 30_000,
    job: () => ({
      kind: "webhook",
      mode: "slow",
      ...base,
      updates: 20,
      chats: 20,
      handlerMs: 15_000,
      capMs: windowMs,
    }),
    metrics: [
      RESENDS,
      metric("duplicateRuns", "handler runs beyond one per update", int),
      metric("answered", "requests answered 2xx", int),
      metric("handled", "handlers finished in the window", int),
    ],
    note: 'Ours answers after answerAfter (5 s) while the handler goes on; grammY\'s webhookCallback throws after 10 s (onTimeout: "throw"), the server answers 500 and Telegram re-sends.',
  };
}

function noopScenario(): Scenario {
  const updates = quick ? 2_000 : 10_000;
  return {
    name: "webhook-noop",
    title: `webhook-noop: ${int(updates)} updates over 100 chats, no-op handler, one request per update`,
    impls: ["ours", "runner"],
    columns: [OURS, GRAMMY],
    ratios: RATIO,
    needsServer: true,
    timeoutMs: 120_000,
    job: () => ({
      kind: "webhook",
      mode: "noop",
      ...base,
      updates,
      chats: 100,
      handlerMs: 0,
      capMs: 90_000,
    }),
    metrics: [RATE, RESENDS],
  };
}

export const WEBHOOK_SCENARIOS: Scenario[] = [floodScenario(), slowScenario(), noopScenario()];
