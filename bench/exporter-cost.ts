/**
 * What each metrics exporter adds per update, measured directly: the
 * observer call the runner makes when a handler settles (one histogram
 * observation), timed over a million calls, against the runner's own cost
 * with no exporter (one length check). Complements the metrics-noop
 * scenario, whose end-to-end figures cannot resolve a difference this
 * small on a busy host.
 *   node scripts/run-ts.mjs bench/exporter-cost.ts
 */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { Registry } from "prom-client";
import type { RunnerStats } from "../src/index.js";
import { recordRunnerMetrics } from "../src/opentelemetry/index.js";
import { registerRunnerMetrics } from "../src/prometheus/index.js";
import { Observers } from "../src/util/observe.js";

const CALLS = 1_000_000;
const ROUNDS = 5;

/** A handle whose observers are the runner's own list, as `run()` wires it. */
function handle(observers: Observers) {
  return { stats: () => ({}) as RunnerStats, observe: observers.add.bind(observers) };
}

/** Median over rounds of ns per `handled` report, the way SinkMetrics.record makes it. */
function nsPerUpdate(observers: Observers): number {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < CALLS; i++)
      if (observers.list.length !== 0) observers.handled((i % 50) / 1000);
    times.push(((performance.now() - start) * 1e6) / CALLS);
  }
  return times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

const none = new Observers();
const prom = new Observers();
registerRunnerMetrics(handle(prom), { registry: new Registry() });
const otel = new Observers();
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const provider = new MeterProvider({ readers: [reader] });
recordRunnerMetrics(handle(otel), { meter: provider.getMeter("bench") });

for (const [name, observers] of [
  ["no exporter", none],
  ["prom-client", prom],
  ["OpenTelemetry SDK", otel],
] as const)
  console.log(`${name.padEnd(18)} ${nsPerUpdate(observers).toFixed(1)} ns per update`);
await provider.shutdown();
