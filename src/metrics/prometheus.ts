import { Counter, Gauge, Histogram, type Registry, register } from "prom-client";
import { show } from "../util/options.js";
import {
  COUNTERS,
  type CounterInstrument,
  checkExporterArguments,
  GAUGES,
  type HISTOGRAMS,
  type HistogramInstrument,
  type MetricsSource,
  makeHistograms,
} from "./instruments.js";

/**
 * Options of {@link registerRunnerMetrics}.
 *
 * @example
 * ```ts
 * const options: PrometheusOptions = { registry: new Registry(), prefix: "mybot_" };
 * ```
 */
export interface PrometheusOptions {
  /** The registry to register on. Default: prom-client's global `register`. */
  registry?: Registry;
  /**
   * Put before every metric name. Default: `"grammy_runner_"`. Give each
   * runner of a process its own prefix or its own registry: names are unique
   * per registry.
   */
  prefix?: string;
}

const KEYS = ["registry", "prefix"] as const;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Registers a runner's metrics on a prom-client registry: counters of
 * updates fetched, handled, failed, timed out, replayed and invalid, of
 * getUpdates calls and retries (read from `handle.stats()` at scrape time);
 * gauges of updates in flight and parked and of free slots; histograms of
 * handler, getUpdates (labelled `outcome`) and journal-write durations in
 * seconds, fed by `handle.observe()` with every observation.
 *
 * @param handle The handle of `run()`
 * @param options Registry and name prefix
 * @returns A function that removes the metrics from the registry and stops recording
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { register } from "prom-client";
 * import { run } from "grammy-runner";
 * import { registerRunnerMetrics } from "grammy-runner/prometheus";
 *
 * const handle = run(bot);
 * registerRunnerMetrics(handle);
 * createServer(async (_req, res) => {
 *   res.setHeader("Content-Type", register.contentType);
 *   res.end(await register.metrics());
 * }).listen(9464);
 * ```
 */
export function registerRunnerMetrics(
  handle: MetricsSource,
  options?: PrometheusOptions,
): () => void {
  const opts = checkExporterArguments("registerRunnerMetrics", handle, options, KEYS);
  const registry = opts.registry ?? register;
  if (typeof registry?.registerMetric !== "function")
    throw new TypeError(
      `Option \`registry\` must be a prom-client Registry, but got ${show(registry)}.`,
    );
  const prefix = opts.prefix ?? "grammy_runner_";
  if (typeof prefix !== "string" || (prefix !== "" && !METRIC_NAME.test(prefix)))
    throw new TypeError(
      `Option \`prefix\` must be a string of letters, digits, _ and : not starting with a digit, but got ${show(prefix)}.`,
    );
  const names: string[] = [];
  const named = (parts: readonly string[], suffix: string) => {
    const full = `${prefix}${parts.join("_")}${suffix}`;
    names.push(full);
    return full;
  };
  const remove = () => {
    for (const full of names) registry.removeSingleMetric(full);
  };
  const registers = [registry];
  let histograms: Record<keyof typeof HISTOGRAMS, Histogram>;
  try {
    for (const c of COUNTERS) counterOf(c, named(c.name, "_total"), registers, handle);
    for (const g of GAUGES) gaugeOf(g, named(g.name, ""), registers, handle);
    histograms = makeHistograms((h) => histogramOf(h, named(h.name, "_seconds"), registers));
  } catch (error) {
    // A name taken already (a second runner on the registry): leave the registry as it
    // was. The last name is the one that failed, someone else's: keep it.
    names.pop();
    remove();
    throw error;
  }
  const { handled, getUpdates, journalWrite } = histograms;
  const detach = handle.observe({
    handled: (seconds) => handled.observe(seconds),
    getUpdates: (seconds, ok) => getUpdates.observe({ outcome: ok ? "ok" : "error" }, seconds),
    journalWrite: (seconds) => journalWrite.observe(seconds),
  });
  return () => {
    detach();
    remove();
  };
}

function histogramOf(h: HistogramInstrument, name: string, registers: Registry[]): Histogram {
  const labelNames = h.outcome ? ["outcome"] : [];
  return new Histogram({ name, help: h.help, buckets: [...h.buckets], labelNames, registers });
}

function counterOf(
  c: CounterInstrument,
  name: string,
  registers: Registry[],
  handle: MetricsSource,
): void {
  const counter: Counter = new Counter({
    name,
    help: c.help,
    registers,
    // Set from the runner's own count at scrape time: nothing to do per update.
    collect: () => {
      counter.reset();
      counter.inc(c.read(handle.stats()));
    },
  });
}

function gaugeOf(
  g: CounterInstrument,
  name: string,
  registers: Registry[],
  handle: MetricsSource,
): void {
  const gauge: Gauge = new Gauge({
    name,
    help: g.help,
    registers,
    collect: () => gauge.set(g.read(handle.stats())),
  });
}
