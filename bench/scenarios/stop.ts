/** stop: what happens to the handlers that run when stop is called. */
import { options } from "../args.js";
import { fixed, int, metric, type Scenario } from "./scenario.js";

const STOP_HANDLER_MS = options.quick ? 500 : 2_000;

export const stopScenario: Scenario = {
  name: "stop",
  title: `stop: 50 handlers of ${STOP_HANDLER_MS} ms each are running; stop is awaited 200 ms after the first started (bot.start(): await bot.stop())`,
  impls: ["ours", "runner", "start"],
  needsServer: true,
  timeoutMs: 30_000,
  job: () => ({ kind: "stop", handlers: 50, handlerMs: STOP_HANDLER_MS, stopAfterMs: 200 }),
  metrics: [
    metric("runningAtStop", "handlers running when stop was called", int),
    metric("finishedAtStop", "handlers finished when stop resolved", int),
    metric("stopMs", "stop took ms", fixed(1)),
    metric(
      "confirmedUnfinished",
      "confirmed to Telegram but unfinished at stop (lost on exit)",
      int,
    ),
    metric("unconfirmed", "not confirmed at stop (redelivered on restart)", int),
  ],
  note: "bot.start() handles one update at a time, so only one handler is running when it is stopped.",
};
