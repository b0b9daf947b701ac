import { type BatchObservableCallback, type Meter, metrics } from "@opentelemetry/api";
import { show } from "../util/options.js";
import {
  COUNTERS,
  type CounterInstrument,
  checkExporterArguments,
  GAUGES,
  type MetricsSource,
  makeHistograms,
} from "./instruments.js";

/**
 * Options of {@link recordRunnerMetrics}.
 *
 * @example
 * ```ts
 * const options: OpenTelemetryOptions = { meter: provider.getMeter("mybot"), namespace: "mybot" };
 * ```
 */
export interface OpenTelemetryOptions {
  /** The meter that creates the instruments. Default: `metrics.getMeter("grammy-runner")` (the global provider). */
  meter?: Meter;
  /**
   * Put before every instrument name, joined with a dot. Default:
   * `"grammy_runner"` (`grammy_runner.updates.handled`). Give each runner
   * of a process its own namespace.
   */
  namespace?: string;
}

const KEYS = ["meter", "namespace"] as const;
/** OpenTelemetry's instrument-name syntax, without a trailing separator. */
const NAMESPACE = /^[A-Za-z][A-Za-z0-9_./-]{0,199}$/;

/**
 * Records a runner's metrics through the OpenTelemetry metrics API, named by
 * its conventions (dotted names, units apart, no `_total`): observable
 * counters of updates fetched, handled, failed, timed out, replayed and
 * invalid and of getUpdates calls and retries, observable up-down counters
 * of updates in flight and parked and of free slots (all read from
 * `handle.stats()` once per collection), and histograms in seconds of
 * handler, getUpdates (attribute `outcome`) and journal-write durations,
 * fed by `handle.observe()` with every observation.
 *
 * @param handle The handle of `run()`
 * @param options Meter and namespace
 * @returns A function that stops recording and reporting
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * import { run } from "grammy-runner";
 * import { recordRunnerMetrics } from "grammy-runner/opentelemetry";
 *
 * // after setting up the SDK's MeterProvider with an exporter:
 * const handle = run(bot);
 * recordRunnerMetrics(handle, { meter: metrics.getMeter("my-bot") });
 * ```
 */
export function recordRunnerMetrics(
  handle: MetricsSource,
  options?: OpenTelemetryOptions,
): () => void {
  const opts = checkExporterArguments("recordRunnerMetrics", handle, options, KEYS);
  const meter = opts.meter ?? metrics.getMeter("grammy-runner");
  if (typeof meter?.createHistogram !== "function")
    throw new TypeError(`Option \`meter\` must be an OpenTelemetry Meter, but got ${show(meter)}.`);
  const namespace = opts.namespace ?? "grammy_runner";
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace))
    throw new TypeError(
      `Option \`namespace\` must be a string of letters, digits, _ . / - starting with a letter, but got ${show(namespace)}.`,
    );
  const named = (parts: readonly string[]) => `${namespace}.${parts.join(".")}`;
  const describe = (i: CounterInstrument) => ({ description: i.help, unit: i.unit });
  const observed = [
    ...COUNTERS.map((c) => ({
      c,
      instrument: meter.createObservableCounter(named(c.name), describe(c)),
    })),
    ...GAUGES.map((c) => ({
      c,
      instrument: meter.createObservableUpDownCounter(named(c.name), describe(c)),
    })),
  ];
  const collect: BatchObservableCallback = (result) => {
    const stats = handle.stats();
    for (const { c, instrument } of observed) result.observe(instrument, c.read(stats));
  };
  const instruments = observed.map((o) => o.instrument);
  meter.addBatchObservableCallback(collect, instruments);
  const { handled, getUpdates, journalWrite } = makeHistograms((h) =>
    meter.createHistogram(named(h.name), {
      description: h.help,
      unit: "s",
      advice: { explicitBucketBoundaries: [...h.buckets] },
    }),
  );
  const ok = { outcome: "ok" };
  const error = { outcome: "error" };
  const detach = handle.observe({
    handled: (seconds) => handled.record(seconds),
    getUpdates: (seconds, success) => getUpdates.record(seconds, success ? ok : error),
    journalWrite: (seconds) => journalWrite.record(seconds),
  });
  return () => {
    detach();
    meter.removeBatchObservableCallback(collect, instruments);
  };
}
