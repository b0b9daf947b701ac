import { noop } from "../util/noop.js";
import { checkDuration, checkFunction, checkNumber, optionalObject } from "../util/options.js";
import { DecayingDeque, type DequeOptions } from "./queue.js";

/**
 * Something that handles one update, e.g. `{ consume: (u) => bot.handleUpdate(u) }`.
 *
 * @example
 * ```ts
 * const consumer: UpdateConsumer<Update> = { consume: (update) => bot.handleUpdate(update) };
 * ```
 */
export interface UpdateConsumer<Y> {
  /** Handles an update; the returned promise settles when handling is done. */
  consume: (update: Y) => Promise<void>;
}

/**
 * Where the runner puts the updates it fetched.
 *
 * @example
 * ```ts
 * const sink: UpdateSink<Update> = createConcurrentSink(consumer, errorHandler);
 * const free = await sink.handle(updates); // how many more updates to fetch next
 * ```
 */
export interface UpdateSink<Y> {
  /**
   * Takes a batch of updates and resolves, once the sink can accept more, with
   * how many more it can take (the `limit` of the next fetch).
   */
  handle: (updates: Y[]) => Promise<number>;
  /** Number of updates accepted and not yet done (running or waiting for a slot). */
  size: () => number;
  /** The updates accepted and not yet done, oldest first. */
  snapshot: () => Y[];
  /**
   * Resolves when every accepted update is done (timed-out ones are not waited
   * for). The runner awaits it on `stop()`; a sink without it is not drained.
   */
  drain?: () => Promise<void>;
}

/**
 * Options of the sinks.
 *
 * @example
 * ```ts
 * const options: SinkOptions<Update> = {
 *   concurrency: 100,
 *   timeout: {
 *     milliseconds: 30_000,
 *     handler: (update) => console.warn(`update ${update.update_id} is slow`),
 *   },
 * };
 * run(bot, { sink: options });
 * ```
 */
export interface SinkOptions<Y> {
  /**
   * Maximum number of updates handled at once by the concurrent sink: an
   * integer >= 1, or `Infinity`. Default: 500. The runner never fetches more
   * updates than there are free slots.
   */
  concurrency?: number;
  /**
   * Most updates parked at once by `sequentialize` while they wait for an
   * earlier update of their key (parked updates hold no concurrency slot).
   * When reached, fetching pauses until some have run. An integer >= 1 or
   * `Infinity`. Default: 5,000. A parked update of a grammY bot holds about
   * 6 KB of heap (the update, its context and suspended middleware), and
   * peak RSS under a long flood grew by about 20 KB per parked update,
   * garbage included, so the default bounds them to about 30 MB of heap and
   * 100 MB of RSS.
   */
  maxParked?: number;
  /**
   * A handler running longer than `milliseconds` is reported to `handler`
   * (with a promise that settles when the handler finally does) and frees its
   * slot. Its `updateSignal(ctx)` is aborted; if it later fails, the error still
   * reaches the error handler.
   */
  timeout?: {
    milliseconds: number;
    handler: (update: Y, task: Promise<void>) => void;
  };
}

const SINK_KEYS = ["concurrency", "maxParked", "timeout"] as const;
const TIMEOUT_KEYS = ["milliseconds", "handler"] as const;
const DEFAULT_CONCURRENCY = 500;
/** A queue made directly has no parking cap; the sinks always have one. */
const DEFAULT_MAX_PARKED = 5_000;

export interface ValidSinkOptions<Y> {
  concurrency: number;
  maxParked: number;
  /** Internal: see {@link DequeOptions.onSettled}. */
  onSettled?: (update: Y, milliseconds: number) => void;
  milliseconds: number;
  onTimeout: (update: Y, task: Promise<void>) => void;
}

/** Validates sink options at creation; exported for `run()`. */
export function validateSinkOptions<Y>(options: SinkOptions<Y> | undefined): ValidSinkOptions<Y> {
  const opts = optionalObject("sink", options, SINK_KEYS);
  const concurrency = checkNumber("sink.concurrency", opts.concurrency, {
    min: 1,
    integer: true,
    fallback: DEFAULT_CONCURRENCY,
  });
  const maxParked = checkNumber("sink.maxParked", opts.maxParked, {
    min: 1,
    integer: true,
    fallback: DEFAULT_MAX_PARKED,
  });
  const timeout = optionalObject("sink.timeout", opts.timeout, TIMEOUT_KEYS);
  if (opts.timeout === undefined)
    return { concurrency, maxParked, milliseconds: Infinity, onTimeout: noop };
  const milliseconds =
    timeout.milliseconds === Infinity
      ? Infinity
      : checkDuration("sink.timeout.milliseconds", timeout.milliseconds);
  const onTimeout =
    timeout.handler === undefined ? noop : checkFunction("sink.timeout.handler", timeout.handler);
  return { concurrency, maxParked, milliseconds, onTimeout };
}

function checkSinkArguments(consumer: unknown, errorHandler: unknown): void {
  if (typeof consumer !== "object" || consumer === null)
    throw new TypeError("The update consumer must be an object with a `consume` function.");
  checkFunction("consume", (consumer as { consume?: unknown }).consume);
  checkFunction("errorHandler", errorHandler);
}

function sinkOn<Y, R>(
  queue: DecayingDeque<Y, R>,
  handle: (updates: Y[]) => Promise<number>,
): UpdateSink<Y> {
  return {
    handle,
    size: () => queue.length,
    snapshot: () => queue.pendingTasks(),
    drain: () => queue.empty(),
  };
}

function queueFor<Y, R>(
  consumer: UpdateConsumer<Y>,
  errorHandler: (error: R) => Promise<void>,
  concurrency: number,
  options: ValidSinkOptions<Y>,
): DecayingDeque<Y, R> {
  return new DecayingDeque<Y, R>(
    options.milliseconds,
    (update) => consumer.consume(update),
    concurrency,
    (error) => errorHandler(error),
    options.onTimeout,
    { maxParked: options.maxParked, onSettled: options.onSettled },
  );
}

/**
 * Creates a sink that handles updates concurrently, at most `concurrency`
 * (default 500) at once. This is the sink of `run(bot)`. When it is full,
 * `handle` resolves once a tenth of the slots (at most 100) are free again, so
 * a saturated bot fetches in batches rather than one update per freed slot.
 *
 * @param consumer Handles one update
 * @param errorHandler Receives the error of every failed update
 * @param options Concurrency and timeout
 * @returns A sink whose `handle` resolves with the number of free slots
 *
 * @example
 * ```ts
 * const sink = createConcurrentSink(
 *   { consume: (update) => bot.handleUpdate(update) },
 *   async (error) => console.error(error),
 *   { concurrency: 100 },
 * );
 * const runner = createRunner(createSource(supplier), sink);
 * runner.start();
 * ```
 */
export function createConcurrentSink<Y, R = unknown>(
  consumer: UpdateConsumer<Y>,
  errorHandler: (error: R) => Promise<void>,
  options?: SinkOptions<Y>,
): UpdateSink<Y> {
  checkSinkArguments(consumer, errorHandler);
  return concurrentSink(consumer, errorHandler, validateSinkOptions(options)).sink;
}

/** The concurrent sink and its queue, for `run()`, which reads the parked count. */
export function concurrentSink<Y, R>(
  consumer: UpdateConsumer<Y>,
  errorHandler: (error: R) => Promise<void>,
  options: ValidSinkOptions<Y>,
): { sink: UpdateSink<Y>; queue: DecayingDeque<Y, R> } {
  const queue = queueFor(consumer, errorHandler, options.concurrency, options);
  // When the sink is full, wait for a tenth of it (at most a full batch) to
  // free up before fetching again, instead of one getUpdates per freed slot.
  const refill = Math.min(100, Math.ceil(options.concurrency / 10));
  return { sink: sinkOn(queue, (updates) => queue.add(updates, refill)), queue };
}

/**
 * Creates a sink that handles one update at a time, like `bot.start()`: each
 * `handle` call resolves when its whole batch is done. Predictable, handy for
 * debugging; too slow for a busy bot. `concurrency` is ignored.
 *
 * @param consumer Handles one update
 * @param errorHandler Receives the error of every failed update
 * @param options Timeout (a timed-out update lets the next one start)
 * @returns A sequential sink
 *
 * @example
 * ```ts
 * const sink = createSequentialSink(
 *   { consume: (update) => bot.handleUpdate(update) },
 *   async (error) => console.error(error),
 * );
 * ```
 */
export function createSequentialSink<Y, R = unknown>(
  consumer: UpdateConsumer<Y>,
  errorHandler: (error: R) => Promise<void>,
  options?: SinkOptions<Y>,
): UpdateSink<Y> {
  return batchWiseSink(consumer, errorHandler, options, 1);
}

/**
 * Creates a sink that handles each batch concurrently and starts the next
 * batch only when the previous one is done (the behaviour of older
 * frameworks). `concurrency` is ignored.
 *
 * @param consumer Handles one update
 * @param errorHandler Receives the error of every failed update
 * @param options Timeout (a timed-out update no longer holds back the batch)
 * @returns A batch sink
 *
 * @example
 * ```ts
 * const sink = createBatchSink(
 *   { consume: (update) => bot.handleUpdate(update) },
 *   async (error) => console.error(error),
 * );
 * ```
 */
export function createBatchSink<Y, R = unknown>(
  consumer: UpdateConsumer<Y>,
  errorHandler: (error: R) => Promise<void>,
  options?: SinkOptions<Y>,
): UpdateSink<Y> {
  return batchWiseSink(consumer, errorHandler, options, Infinity);
}

/** A sink whose `handle` resolves only when its whole batch is done, like @grammyjs/runner's. */
function batchWiseSink<Y, R>(
  consumer: UpdateConsumer<Y>,
  errorHandler: (error: R) => Promise<void>,
  options: SinkOptions<Y> | undefined,
  concurrency: number,
): UpdateSink<Y> {
  checkSinkArguments(consumer, errorHandler);
  const queue = queueFor(consumer, errorHandler, concurrency, validateSinkOptions(options));
  return sinkOn(queue, async (updates) => {
    await queue.add(updates);
    await queue.empty();
    return Infinity;
  });
}
