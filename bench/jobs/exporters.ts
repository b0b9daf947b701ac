/**
 * The metrics exporters a throughput run can turn on, set up as a user would:
 * prom-client on a registry of its own, OpenTelemetry on the SDK's
 * MeterProvider with a periodic reader (its in-memory exporter stands in for
 * a network one). The run itself scrapes nothing: what is measured is what
 * recording costs per update.
 */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { Registry } from "prom-client";
import { recordRunnerMetrics } from "../../src/opentelemetry/index.js";
import { registerRunnerMetrics } from "../../src/prometheus/index.js";
import type { JobOf } from "../protocol.js";
import type { Driver } from "./implementations.js";

/** Attaches `kind` to the driver's runner; resolves the returned function to detach and shut down. */
export function attachExporter(
  kind: NonNullable<JobOf<"throughput">["exporter"]>,
  driver: Driver,
): () => Promise<void> {
  const handle = driver.handle;
  if (handle === undefined) throw new Error(`the ${kind} exporter needs grammy-runner's run()`);
  if (kind === "prometheus") {
    const registry = new Registry();
    const remove = registerRunnerMetrics(handle, { registry });
    return async () => {
      await registry.metrics(); // one scrape, so collection is exercised too
      remove();
    };
  }
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const detach = recordRunnerMetrics(handle, { meter: provider.getMeter("bench") });
  return async () => {
    await reader.forceFlush();
    detach();
    await provider.shutdown();
  };
}
