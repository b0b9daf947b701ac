import type { AbortSignal as GrammySignal } from "abort-controller";
import { noop } from "../util/noop.js";
import { checkNumber, optionalObject } from "../util/options.js";
import { sleep } from "../util/timers.js";

/**
 * Fetches updates: `supply(batchSize, signal)` resolves with at most
 * `batchSize` updates and rejects (or resolves) promptly when `signal` aborts.
 * `createUpdateFetcher(bot)` returns such a function.
 *
 * @example
 * ```ts
 * const supplier: UpdateSupplier<Update> = { supply: createUpdateFetcher(bot) };
 * ```
 */
export interface UpdateSupplier<Y> {
  supply: (batchSize: number, signal: GrammySignal) => Promise<Y[]>;
}

/**
 * A pull-based stream of update batches with backpressure: nothing is fetched
 * until the consumer asks for the next batch, and `setGeneratorPace` bounds the
 * size of the next fetch.
 *
 * @example
 * ```ts
 * const source: UpdateSource<Update> = createSource(supplier);
 * for await (const batch of source.generator()) {
 *   source.setGeneratorPace(await sink.handle(batch));
 * }
 * ```
 */
export interface UpdateSource<Y> {
  /** The batches; ends (without throwing) after `close()`. */
  generator(): AsyncGenerator<Y[]>;
  /** The most updates the next fetch may return (clamped to 1..100 by the fetcher). */
  setGeneratorPace(pace: number): void;
  /** Whether the generator is fetching (not closed). */
  isActive(): boolean;
  /** Aborts the pending fetch and any pause; the generator ends. */
  close(): void;
}

/**
 * Options of {@link createSource}.
 *
 * @example
 * ```ts
 * // trade latency for fewer calls: wait up to 2 s between small batches
 * run(bot, { source: { speedTrafficBalance: 0.5, maxDelayMilliseconds: 2_000 } });
 * ```
 */
export interface SourceOptions {
  /**
   * From 0 (fetch again at once: lowest latency, default) to 1 (pause up to
   * `maxDelayMilliseconds` after a batch of fewer than 100 updates, so that
   * fewer calls carry fuller batches).
   */
  speedTrafficBalance?: number;
  /** Longest pause between fetches, in milliseconds. Default: 500. */
  maxDelayMilliseconds?: number;
}

const SOURCE_KEYS = ["speedTrafficBalance", "maxDelayMilliseconds"] as const;
/**
 * `process.nextTick` as at import, so that fake timers installed later do not
 * hold it. Under fakes installed before (those of @sinonjs/fake-timers, which
 * Jest and Vitest use, carry a `clock`), batches are handed out without the
 * tick rather than wait for the test to advance the clock.
 */
const queueTick =
  (process.nextTick as { clock?: unknown }).clock === undefined
    ? process.nextTick.bind(process)
    : undefined;

const always = (): boolean => true;

/** Batches remembered to estimate the traffic rate. */
const WINDOW = 16;

/**
 * Creates an update source that pulls batches from `supplier`.
 *
 * @param supplier Fetches batches of updates
 * @param options How to balance latency against the number of calls
 * @param sinkIdle Whether the sink has no update left to handle. The next
 *   batch is requested before the current one is handed out only then (see
 *   below); without it, always.
 * @returns A source for {@link createRunner}
 *
 * @example
 * ```ts
 * const sink = createConcurrentSink(consumer, onError);
 * const source = createSource({ supply: createUpdateFetcher(bot) }, {}, () => sink.size() === 0);
 * const runner = createRunner(source, sink);
 * runner.start();
 * ```
 */
export function createSource<Y>(
  supplier: UpdateSupplier<Y>,
  options?: SourceOptions,
  sinkIdle: () => boolean = always,
): UpdateSource<Y> {
  if (typeof supplier !== "object" || supplier === null || typeof supplier.supply !== "function")
    throw new TypeError("The update supplier must be an object with a `supply` function.");
  const pause = pauseFor(options);

  let pace = Infinity;
  let controller: AbortController | undefined;
  let generator: AsyncGenerator<Y[]> | undefined;

  async function* batches(own: AbortController): AsyncGenerator<Y[]> {
    const signal = own.signal as unknown as GrammySignal;
    /** The next batch, already requested while the consumer handles the current one. */
    let ahead: Promise<Y[]> | undefined;
    for (;;) {
      if (ahead === undefined && own.signal.aborted) return;
      const started = Date.now();
      let items: Y[];
      try {
        items = await (ahead ?? supplier.supply(pace, signal));
      } catch (error) {
        if (own.signal.aborted) return;
        throw error;
      }
      ahead = undefined;
      // Overlap fetching with handling: ask for the next batch now, for the
      // room left once this one is in the sink, so the cap bounds what is
      // fetched. Only into an idle sink: while earlier handlers still wait on
      // their API calls, the consumer's fetch right after it takes this batch
      // still overlaps with them, and one sent first would be answered before
      // this batch's calls, stacking batch on batch (against one server that
      // only meant more calls in flight, connections and garbage, not more
      // throughput).
      const room = pace - items.length;
      if (
        pause === undefined &&
        worthFetchingAhead(room, pace) &&
        sinkIdle() &&
        !own.signal.aborted
      ) {
        ahead = supplier.supply(room, signal);
        // Seen when awaited above; this only keeps an abandoned generator quiet.
        ahead.catch(noop);
        // Node's HTTP client writes a request to its (free keep-alive) socket
        // from a process.nextTick callback, and one queued from a promise job
        // runs only once no promise job is left: after this batch's handlers
        // have run as far as they can without I/O, unless the batch waits for
        // one tick. That put getUpdates on the wire 0.25 ms later per batch
        // of 100 no-op updates.
        if (queueTick !== undefined) await new Promise((resolve) => queueTick(resolve));
      }
      // Fetched updates are always handed out, even after close(): their
      // offset has moved on, so dropping them would lose them.
      if (items.length > 0 || !own.signal.aborted) yield items;
      const wait = pause?.(items.length, Date.now() - started) ?? 0;
      if (wait > 0 && items.length < 100) await sleep(wait, own.signal);
    }
  }

  return {
    generator() {
      if (generator === undefined || controller?.signal.aborted) {
        controller = new AbortController();
        pace = Infinity;
        generator = batches(controller);
      }
      return generator;
    },
    setGeneratorPace(newPace) {
      pace = newPace;
    },
    isActive: () => controller !== undefined && !controller.signal.aborted,
    close() {
      controller?.abort();
    },
  };
}

/**
 * Whether `room` (left after the batch in hand) is worth a fetch ahead: not
 * when the sink is nearly full, as a fuller batch once it has room again costs
 * fewer calls; nor without a known room (the sequential and batch sinks), as
 * the next getUpdates would confirm a batch they have not handled yet.
 */
function worthFetchingAhead(room: number, pace: number): boolean {
  return Number.isFinite(room) && room >= 1 && room >= pace / 2;
}

/**
 * Validates the options at creation; returns how long to pause after each
 * batch, or `undefined` to fetch again at once.
 */
function pauseFor(
  options: SourceOptions | undefined,
): ((count: number, ms: number) => number) | undefined {
  const opts = optionalObject("source", options, SOURCE_KEYS);
  const balance = checkNumber("source.speedTrafficBalance", opts.speedTrafficBalance ?? 0, {
    min: 0,
    max: 1,
  });
  const maxDelay = checkNumber("source.maxDelayMilliseconds", opts.maxDelayMilliseconds ?? 500, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  });
  return balance === 0 || maxDelay === 0 ? undefined : pacer(balance, maxDelay);
}

/**
 * Estimates, from recent batch sizes and fetch durations, how long to wait
 * before the next fetch: longer when traffic is low, never over `maxDelay`.
 */
function pacer(balance: number, maxDelay: number): (count: number, ms: number) => number {
  const wanted = (100 * balance) / maxDelay;
  const counts = new Array<number>(WINDOW).fill(100);
  const durations = new Array<number>(WINDOW).fill(1);
  let totalCount = 100 * WINDOW;
  let totalDuration = WINDOW;
  let index = 0;
  return (count, ms) => {
    totalCount += count - counts[index];
    totalDuration += ms - durations[index];
    counts[index] = count;
    durations[index] = ms;
    index = (index + 1) % WINDOW;
    return maxDelay * Math.tanh((wanted * totalDuration) / Math.max(totalCount, 1));
  };
}
