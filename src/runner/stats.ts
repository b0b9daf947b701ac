import type { FetchCounters } from "../fetch/counters.js";
import { Observers } from "../util/observe.js";

/** Handler durations kept for the percentiles: enough for a stable p99, cheap to sort. */
const WINDOW = 1024;

/**
 * A snapshot of a runner's counters, from `handle.stats()`. Cheap enough to
 * poll every second.
 *
 * @example
 * ```ts
 * const handle = run(bot);
 * setInterval(() => {
 *   const s = handle.stats();
 *   console.log(`${s.inFlight} in flight, p99 ${s.latency.p99.toFixed(1)} ms`);
 * }, 1_000);
 * ```
 */
export interface RunnerStats {
  /** Updates returned by getUpdates and accepted (invalid ones excluded). */
  fetched: number;
  /** Updates whose handler settled, successfully or not. */
  handled: number;
  /** Of those, the ones whose handler failed (their error went to the error handler). */
  failed: number;
  /** Updates whose handler exceeded `sink.timeout.milliseconds`. */
  timedOut: number;
  /**
   * Updates handed to the bot again (see `isReplayed`): read back from the
   * journal, or, in a cluster, left unfinished by another replica (also in
   * `cluster.replayed`).
   */
  replayed: number;
  /** Updates accepted by the sink and not yet done (running or waiting for a slot). */
  inFlight: number;
  /** Of those, updates parked by `sequentialize` while they wait for their key (no slot held). */
  parked: number;
  /** Concurrency slots not taken by a running update (`Infinity` without a cap). */
  slotsFree: number;
  /** getUpdates calls made, including failed ones and the confirmation on stop. */
  getUpdatesCalls: number;
  /** Failed calls that were retried. */
  retries: number;
  /** Updates skipped because they were malformed, duplicated or out of order. */
  invalidUpdates: number;
  /** The last error from the Bot API, redacted, or `undefined`. */
  lastError: string | undefined;
  /** Handler durations in milliseconds over the last 1,024 settled updates. */
  latency: { p50: number; p99: number; samples: number };
}

/** Counts what the sink does; `run()` feeds it from its consumer and handlers. */
export class SinkMetrics {
  handled = 0;
  failed = 0;
  timedOut = 0;
  replayed = 0;
  /** Who sees every duration as it happens (`handle.observe()`); empty unless an exporter is on. */
  readonly observers = new Observers();
  private readonly durations = new Float64Array(WINDOW);
  private next = 0;

  record(ms: number): void {
    this.durations[this.next % WINDOW] = ms;
    this.next++;
    this.handled++;
    if (this.observers.list.length !== 0) this.observers.handled(ms / 1000);
  }

  snapshot(fetch: FetchCounters, inFlight: number, parked: number, slotsFree: number): RunnerStats {
    const samples = Math.min(this.next, WINDOW);
    const sorted = this.durations.slice(0, samples).sort();
    const at = (q: number) =>
      samples === 0 ? 0 : sorted[Math.min(samples - 1, Math.floor(q * samples))];
    return {
      fetched: fetch.fetched,
      handled: this.handled,
      failed: this.failed,
      timedOut: this.timedOut,
      replayed: this.replayed,
      inFlight,
      parked,
      slotsFree,
      getUpdatesCalls: fetch.getUpdatesCalls,
      retries: fetch.retries,
      invalidUpdates: fetch.invalid,
      lastError: fetch.lastError,
      latency: { p50: at(0.5), p99: at(0.99), samples },
    };
  }
}
