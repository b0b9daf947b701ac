import type { RunnerStats } from "../runner/stats.js";
import type { RunnerObserver } from "../util/observe.js";
import { checkFunction, optionalObject, rejectUnknownKeys, show } from "../util/options.js";

/**
 * What the exporters read: a handle of `run()` (its `stats()` at collection
 * time, its `observe()` for the histograms).
 *
 * @example
 * ```ts
 * const source: MetricsSource = run(bot);
 * ```
 */
export interface MetricsSource {
  stats: () => RunnerStats;
  observe: (observer: RunnerObserver) => () => void;
}

/**
 * One instrument, named once for both exporters: `name` is a list of words,
 * joined with `_` for Prometheus (plus the `_total` or `_seconds` suffix) and
 * with `.` for OpenTelemetry.
 */
interface Instrument {
  name: readonly string[];
  help: string;
}

/** A count that only grows, read from `stats()` at collection time. */
export interface CounterInstrument extends Instrument {
  /** OpenTelemetry unit annotation, e.g. `{update}`. */
  unit: string;
  read: (stats: RunnerStats) => number;
}

/** A level that goes up and down, read from `stats()` at collection time. */
export type GaugeInstrument = CounterInstrument;

/** A duration recorded through `handle.observe()`, in seconds. */
export interface HistogramInstrument extends Instrument {
  /** Upper bounds of the buckets, in seconds. */
  buckets: readonly number[];
  /** Whether observations carry `outcome` = `ok` | `error` (two values: bounded). */
  outcome: boolean;
}

/*
 * Cluster metrics (role, partitions held, stream lag) belong in these lists
 * once the cluster exists: both exporters register every entry, so an entry
 * reading the cluster's stats is all a new metric needs.
 */

/**
 * The counters, in the order they are registered.
 *
 * @example
 * ```ts
 * for (const c of COUNTERS) console.log(c.name.join("_"), c.read(handle.stats()));
 * ```
 */
export const COUNTERS: readonly CounterInstrument[] = [
  {
    name: ["updates", "fetched"],
    help: "Updates returned by getUpdates and accepted (invalid ones excluded).",
    unit: "{update}",
    read: (s) => s.fetched,
  },
  {
    name: ["updates", "handled"],
    help: "Updates whose handler settled, successfully or not.",
    unit: "{update}",
    read: (s) => s.handled,
  },
  {
    name: ["updates", "failed"],
    help: "Handled updates whose handler failed (the error went to the error handler).",
    unit: "{update}",
    read: (s) => s.failed,
  },
  {
    name: ["updates", "timed_out"],
    help: "Updates whose handler exceeded sink.timeout.milliseconds.",
    unit: "{update}",
    read: (s) => s.timedOut,
  },
  {
    name: ["updates", "replayed"],
    help: "Updates read back from the journal and handled again.",
    unit: "{update}",
    read: (s) => s.replayed,
  },
  {
    name: ["updates", "invalid"],
    help: "Updates skipped because they were malformed, duplicated or out of order.",
    unit: "{update}",
    read: (s) => s.invalidUpdates,
  },
  {
    name: ["get_updates", "calls"],
    help: "getUpdates calls made, including failed ones and the confirmation on stop.",
    unit: "{call}",
    read: (s) => s.getUpdatesCalls,
  },
  {
    name: ["get_updates", "retries"],
    help: "Failed Bot API calls of the fetcher that were retried.",
    unit: "{call}",
    read: (s) => s.retries,
  },
];

/**
 * The gauges (OpenTelemetry: up-down counters), read like the counters.
 *
 * @example
 * ```ts
 * for (const g of GAUGES) console.log(g.name.join("_"), g.read(handle.stats()));
 * ```
 */
export const GAUGES: readonly GaugeInstrument[] = [
  {
    name: ["updates", "in_flight"],
    help: "Updates accepted and not yet done (running, parked or waiting for a slot).",
    unit: "{update}",
    read: (s) => s.inFlight,
  },
  {
    name: ["updates", "parked"],
    help: "Updates parked by sequentialize while they wait for their key (no slot held).",
    unit: "{update}",
    read: (s) => s.parked,
  },
  {
    name: ["slots", "free"],
    help: "Concurrency slots not held by a running update.",
    unit: "{slot}",
    read: (s) => s.slotsFree,
  },
];

/** From a fast no-op handler (sub-millisecond) to one that calls other services for a minute. */
const HANDLER_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** A busy bot's getUpdates answers in milliseconds; an idle one waits out the long-poll timeout (30 s). */
const GET_UPDATES_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
/** A journal write is an append and an fdatasync: tens of microseconds to a slow disk's tens of milliseconds. */
const JOURNAL_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

/**
 * The histograms, one per method of `RunnerObserver`, which feeds them.
 *
 * @example
 * ```ts
 * const { buckets } = HISTOGRAMS.handled; // upper bounds in seconds
 * ```
 */
export const HISTOGRAMS = {
  handled: {
    name: ["handler", "duration"],
    help: "Time from an update's handler starting to it settling (time parked by sequentialize included).",
    buckets: HANDLER_BUCKETS,
    outcome: false,
  },
  getUpdates: {
    name: ["get_updates", "duration"],
    help: "Time a getUpdates call took, long-poll wait included.",
    buckets: GET_UPDATES_BUCKETS,
    outcome: true,
  },
  journalWrite: {
    name: ["journal", "write", "duration"],
    help: "Time the journal took to store a fetched batch durably.",
    buckets: JOURNAL_BUCKETS,
    outcome: false,
  },
} as const satisfies Record<keyof RunnerObserver, HistogramInstrument>;

/**
 * One histogram per entry of {@link HISTOGRAMS}, made by an exporter's `make`.
 *
 * @example
 * ```ts
 * const { handled } = makeHistograms((h) => meter.createHistogram(h.name.join(".")));
 * ```
 */
export function makeHistograms<T>(
  make: (h: HistogramInstrument) => T,
): Record<keyof typeof HISTOGRAMS, T> {
  return {
    handled: make(HISTOGRAMS.handled),
    getUpdates: make(HISTOGRAMS.getUpdates),
    journalWrite: make(HISTOGRAMS.journalWrite),
  };
}

/**
 * Checks an exporter's arguments: `handle` must have `stats()` and
 * `observe()`, as a handle of `run()` does, and `options` only `keys`.
 * Returns the options, `{}` for none.
 *
 * @example
 * ```ts
 * const opts = checkExporterArguments("registerRunnerMetrics", handle, options, ["registry", "prefix"]);
 * ```
 */
export function checkExporterArguments<T extends object>(
  caller: string,
  handle: MetricsSource,
  options: T | undefined,
  keys: readonly (keyof T & string)[],
): Partial<T> {
  if (typeof handle !== "object" || handle === null)
    throw new TypeError(
      `${caller}: the first argument must be the handle of run(), but got ${show(handle)}.`,
    );
  checkFunction("handle.stats", handle.stats);
  checkFunction("handle.observe", handle.observe);
  const opts = optionalObject("options", options);
  rejectUnknownKeys("options", opts, keys);
  return opts;
}
