/** metrics-noop: what each metrics exporter costs per update, the throughput job otherwise. */

import { options } from "../args.js";
import { fixed, int, metric, type Scenario } from "./scenario.js";
import { CHATS, THROUGHPUT_METRICS, UPDATES } from "./throughput.js";

export const metricsScenario: Scenario = {
  name: "metrics-noop",
  title: `metrics-noop: ${int(UPDATES)} updates over ${int(CHATS)} chats, no-op handler; grammy-runner run() with no exporter, with grammy-runner/prometheus and with grammy-runner/opentelemetry`,
  impls: ["ours"],
  columns: [
    { id: "ours", impl: "ours", label: "no exporter" },
    { id: "ours-prometheus", impl: "ours", label: "prom-client" },
    { id: "ours-opentelemetry", impl: "ours", label: "OpenTelemetry SDK" },
  ],
  ratios: [
    { label: "prom-client / none", a: "ours-prometheus", b: "ours" },
    { label: "OpenTelemetry / none", a: "ours-opentelemetry", b: "ours" },
  ],
  needsServer: true,
  timeoutMs: options.quick ? 45_000 : 90_000,
  job: ({ id }) => ({
    kind: "throughput",
    updates: UPDATES,
    chats: CHATS,
    delayMs: 0,
    seq: false,
    ...(id === "ours"
      ? {}
      : { exporter: id === "ours-prometheus" ? "prometheus" : "opentelemetry" }),
  }),
  metrics: [...THROUGHPUT_METRICS, metric("wallPerUpdate", "wall µs/update", fixed(2), true)],
  note: "Each exporter is attached right after run() and sees every update: the handler-duration histogram gets one observation per update and the getUpdates one per call; counters and gauges are read from stats() only when scraped (once, at the end). The cost of an exporter per update is the difference in bot CPU µs/update (or wall µs/update) against the no-exporter column.",
};
