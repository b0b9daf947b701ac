import { type BotAdapter, checkBot, createFetcher, type RunnerOptions } from "./fetcher.js";
import { describeError, logger, redact } from "./log.js";
import { checkFunction, optionalObject, rejectUnknownKeys } from "./options.js";
import { concurrentSink, type SinkOptions, type UpdateSink, validateSinkOptions } from "./sink.js";
import { createSource, type SourceOptions, type UpdateSource } from "./source.js";
import { type RunnerStats, SinkMetrics } from "./stats.js";

const log = logger("runner");

/**
 * Options of {@link run}: how to fetch (`runner`), how to pace fetching
 * (`source`) and how to handle updates (`sink`).
 *
 * @example
 * ```ts
 * run(bot, {
 *   runner: { fetch: { allowed_updates: ["message"] }, drop_pending_updates: true },
 *   source: { speedTrafficBalance: 0 },
 *   sink: { concurrency: 100 },
 * });
 * ```
 */
export interface RunOptions<Y> {
  source?: SourceOptions;
  runner?: RunnerOptions;
  sink?: SinkOptions<Y>;
}

/**
 * Controls a running bot.
 *
 * @example
 * ```ts
 * const handle = run(bot);
 * process.once("SIGTERM", () => handle.stop()); // resolves once running handlers are done
 * await handle.task(); // rejects if the runner fails, e.g. on a revoked token
 * ```
 */
export interface RunnerHandle {
  /** Starts fetching (again) if stopped; no effect while running. */
  start: () => void;
  /**
   * Stops fetching at once (the pending getUpdates and any retry wait are
   * aborted) and resolves when every update already fetched has been handled
   * (handlers that timed out are not waited for) and, under `run()`, their
   * offset confirmed to Telegram. Never rejects; safe to call again.
   */
  stop: () => Promise<void>;
  /** Number of updates being handled or waiting for a slot. */
  size: () => number;
  /**
   * The promise of the current (or last) run: resolves after a stop has
   * drained, rejects with the error that ended the runner. `undefined` before
   * the first start.
   */
  task: () => Promise<void> | undefined;
  /** Whether the runner is fetching; `false` from the moment `stop()` is called. */
  isRunning: () => boolean;
}

/**
 * The handle of {@link run}: a {@link RunnerHandle} plus counters.
 *
 * @example
 * ```ts
 * const handle: RunHandle = run(bot);
 * console.log(handle.stats().handled);
 * ```
 */
export interface RunHandle extends RunnerHandle {
  /** Current counters and handler-latency percentiles. */
  stats: () => RunnerStats;
}

interface Lifecycle {
  /** Prints a failure that ends the runner, unless silenced. */
  silent: boolean;
  /** Runs after a clean stop has drained the sink. */
  afterDrain?: () => Promise<void>;
}

/**
 * Creates a runner that pulls batches from `source` and hands them to `sink`,
 * fetching only as many updates as the sink has room for. Call `start()` on
 * the returned handle to begin.
 *
 * @param source Where updates come from
 * @param sink Where they are handled
 * @returns A handle to start, stop and observe the runner
 *
 * @example
 * ```ts
 * const source = createSource({ supply: createUpdateFetcher(bot) });
 * const sink = createConcurrentSink(
 *   { consume: (update) => bot.handleUpdate(update) },
 *   async (error) => console.error(error),
 * );
 * const runner = createRunner(source, sink);
 * runner.start();
 * ```
 */
export function createRunner<Y>(source: UpdateSource<Y>, sink: UpdateSink<Y>): RunnerHandle {
  if (typeof source?.generator !== "function" || typeof source.close !== "function")
    throw new TypeError("createRunner: the first argument must be an UpdateSource.");
  if (typeof sink?.handle !== "function" || typeof sink.size !== "function")
    throw new TypeError("createRunner: the second argument must be an UpdateSink.");
  return runnerOf(source, sink, { silent: false });
}

function runnerOf<Y>(source: UpdateSource<Y>, sink: UpdateSink<Y>, life: Lifecycle): RunnerHandle {
  let running = false;
  let current: Promise<void> | undefined;

  async function loop(): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      const batches = source.generator();
      // Ask the sink for its room first, so even the first fetch respects the cap.
      source.setGeneratorPace(await sink.handle([]));
      for await (const batch of batches) {
        source.setGeneratorPace(await sink.handle(batch));
        if (!running) break;
      }
    } catch (error) {
      failure = { error };
      running = false;
      source.close();
      log(`runner failed: ${describeError(error)}`);
      if (!life.silent)
        console.error(`[grammy-runner] The runner stopped: ${describeError(error)}`);
    }
    running = false;
    await sink.drain?.();
    if (failure !== undefined) throw failure.error;
    await life.afterDrain?.();
    log("stopped and drained");
  }

  return {
    start() {
      if (running) return;
      running = true;
      const previous = current;
      const next = (previous ?? Promise.resolve()).then(noop, noop).then(loop);
      // The failure is reported above and through task(); it must not also
      // crash the process as an unhandled rejection when nobody asks.
      next.catch(noop);
      current = next;
    },
    stop() {
      running = false;
      source.close();
      return current === undefined ? Promise.resolve() : current.then(noop, noop);
    },
    size: () => sink.size(),
    task: () => current,
    isRunning: () => running,
  };
}

function noop(): void {}

const RUN_KEYS = ["source", "runner", "sink"] as const;

/**
 * Runs a grammY bot with concurrent long polling and returns a handle to it.
 * Up to `sink.concurrency` (default 500) updates are handled at once; errors
 * go to `bot.catch`. Use `sequentialize()` to keep per-chat order.
 *
 * Unlike @grammyjs/runner, `stop()` waits for running handlers and confirms
 * their updates, retries back off with a cap, and bad options throw here.
 *
 * @param bot A grammY bot
 * @param options How to fetch, pace and handle updates
 * @returns A handle to stop or observe the bot
 *
 * @example
 * ```ts
 * import { Bot } from "grammy";
 * import { run, sequentialize } from "grammy-runner";
 *
 * const bot = new Bot(process.env.BOT_TOKEN!);
 * bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
 * bot.on("message", (ctx) => ctx.reply("Got it"));
 * const handle = run(bot);
 * process.once("SIGINT", () => handle.stop());
 * ```
 */
export function run<Y extends { update_id: number }, R>(
  bot: BotAdapter<Y, R>,
  options?: RunOptions<Y>,
): RunHandle {
  checkBot(bot);
  checkFunction("bot.errorHandler", bot.errorHandler);
  const opts = optionalObject("options", options);
  rejectUnknownKeys("", opts, RUN_KEYS);
  const fetcher = createFetcher(bot, opts.runner);
  const source = createSource({ supply: fetcher.fetch }, opts.source);
  const metrics = new SinkMetrics();
  const sinkOptions = validateSinkOptions(opts.sink);
  const onTimeout = sinkOptions.onTimeout;

  const { sink, queue } = concurrentSink<Y, R>(
    {
      consume: async (update) => {
        const started = performance.now();
        try {
          await bot.handleUpdate(update);
        } finally {
          metrics.record(performance.now() - started);
        }
      },
    },
    async (error) => {
      metrics.failed++;
      try {
        await bot.errorHandler(error);
      } catch (secondary) {
        log(`error handler threw: ${describeError(secondary)}`);
        if (!fetcher.silent) printHandlerFailure(secondary);
      }
    },
    {
      ...sinkOptions,
      onTimeout: (update, task) => {
        metrics.timedOut++;
        log(`update ${update.update_id} timed out`);
        onTimeout(update, task);
      },
    },
  );
  const handle = runnerOf(source, sink, { silent: fetcher.silent, afterDrain: fetcher.confirm });
  handle.start();
  return {
    ...handle,
    stats: () => metrics.snapshot(fetcher.counters, sink.size(), queue.parkedCount),
  };
}

function printHandlerFailure(error: unknown): void {
  const detail = error instanceof Error && error.stack ? error.stack : describeError(error);
  console.error(
    `[grammy-runner] The bot's error handler threw while handling an error; the runner goes on. Set a handler that does not throw with bot.catch(). ${redact(detail)}`,
  );
}
