import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordRunnerMetrics } from "../../src/opentelemetry/index.js";
import { failOnUnhandled, useFakeApi } from "../helpers/bot.js";
import { runScenario } from "./scenario.js";

const ctx = useFakeApi();
failOnUnhandled();

let exporter: InMemoryMetricExporter;
let reader: PeriodicExportingMetricReader;
let provider: MeterProvider;

beforeEach(() => {
  exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Exported only when the test flushes.
  reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  provider = new MeterProvider({ readers: [reader] });
});

afterEach(async () => {
  await provider.shutdown();
});

/** Flushes the reader and returns the exported instruments by name. */
async function collect(): Promise<Map<string, MetricData>> {
  await reader.forceFlush();
  const byName = new Map<string, MetricData>();
  for (const resource of exporter.getMetrics())
    for (const scope of resource.scopeMetrics)
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  exporter.reset();
  return byName;
}

function single(metric: MetricData | undefined): number {
  expect(metric?.dataPoints.length).toBe(1);
  return metric?.dataPoints[0].value as number;
}

describe("grammy-runner/opentelemetry", () => {
  it("exports what the bot handled, with every handler duration in the histogram", async () => {
    const meter = provider.getMeter("test");
    const run = await runScenario(ctx.api, (handle) => recordRunnerMetrics(handle, { meter }));
    const m = await collect();
    const n = (name: string) => `grammy_runner.${name}`;
    const handled = run.fetched + run.replayed;
    expect(single(m.get(n("updates.fetched")))).toBe(run.fetched);
    expect(single(m.get(n("updates.handled")))).toBe(handled);
    expect(single(m.get(n("updates.failed")))).toBe(run.failed);
    expect(single(m.get(n("updates.timed_out")))).toBe(run.timedOut);
    expect(single(m.get(n("updates.replayed")))).toBe(run.replayed);
    expect(single(m.get(n("updates.invalid")))).toBe(run.invalid);
    expect(single(m.get(n("get_updates.calls")))).toBe(run.handle.stats().getUpdatesCalls);
    expect(single(m.get(n("get_updates.retries")))).toBe(0);
    expect(single(m.get(n("updates.in_flight")))).toBe(0);
    expect(single(m.get(n("updates.parked")))).toBe(0);
    expect(single(m.get(n("slots.free")))).toBe(run.concurrency);
    expect(m.get(n("updates.handled"))?.descriptor.unit).toBe("{update}");
    expect(m.get(n("updates.handled"))?.dataPointType).toBe(DataPointType.SUM);

    const duration = m.get(n("handler.duration"));
    expect(duration?.descriptor.unit).toBe("s");
    expect(duration?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const histogram = duration?.dataPoints[0].value as Histogram;
    expect(histogram.count).toBe(handled);
    expect(histogram.buckets.boundaries).toContain(0.1);
    expect(histogram.sum).toBeGreaterThan(0.15);
    const getUpdates = m.get(n("get_updates.duration"));
    const ok = getUpdates?.dataPoints.find((p) => p.attributes.outcome === "ok");
    expect((ok?.value as Histogram | undefined)?.count).toBeGreaterThanOrEqual(2);
    const journal = m.get(n("journal.write.duration"))?.dataPoints[0].value as Histogram;
    expect(journal.count).toBe(run.journalAppends);
    expect(m.size).toBe(14);
  });

  it("stops reporting once detached, and validates its options", async () => {
    const meter = provider.getMeter("test");
    const run = await runScenario(ctx.api, () => {});
    let reads = 0;
    const source = {
      stats: () => {
        reads++;
        return run.handle.stats();
      },
      observe: run.handle.observe,
    };
    const detach = recordRunnerMetrics(source, { meter, namespace: "bot.a" });
    expect(single((await collect()).get("bot.a.updates.handled"))).toBe(run.fetched + run.replayed);
    expect(reads).toBe(1); // one stats() per collection for all instruments
    detach();
    await collect();
    expect(reads).toBe(1);
    expect(() => recordRunnerMetrics(run.handle, { namespace: "1a" })).toThrow(/`namespace`/);
    expect(() => recordRunnerMetrics(run.handle, { meter: {} as never })).toThrow(/`meter`/);
    expect(() => recordRunnerMetrics(null as never)).toThrow(/handle of run\(\)/);
  });
});
