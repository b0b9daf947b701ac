import type { AbortSignal as GrammySignal } from "abort-controller";
import {
  type Cluster,
  type ClusterMember,
  type ClusterStats,
  checkCluster,
} from "../cluster/cluster.js";
import { type BotAdapter, botInfoOf, checkBot } from "../fetch/bot-adapter.js";
import { createFetcher, type Fetcher } from "../fetch/fetcher.js";
import type { RunnerOptions } from "../fetch/options.js";
import { checkJournal, isReplayed, type UpdateJournal } from "../journal/journal.js";
import { Journaling } from "../journal/journaled.js";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import type { RunnerObserver } from "../util/observe.js";
import { checkFunction, optionalObject, rejectUnknownKeys } from "../util/options.js";
import { botErrorHandler } from "./bot-errors.js";
import { concurrentSink, type SinkOptions, type UpdateSink, validateSinkOptions } from "./sink.js";
import { createSource, type SourceOptions, type UpdateSource } from "./source.js";
import { type RunnerStats, SinkMetrics } from "./stats.js";

const log = logger("runner");

/**
 * Options of {@link run}: how to fetch (`runner`), how to pace fetching
 * (`source`), how to handle updates (`sink`) and where to keep fetched updates
 * until they are handled (`journal`).
 *
 * @example
 * ```ts
 * run(bot, {
 *   runner: { fetch: { allowed_updates: ["message"] }, drop_pending_updates: true },
 *   source: { speedTrafficBalance: 0 },
 *   sink: { concurrency: 100 },
 *   journal: fileJournal("../journal"),
 * });
 * ```
 */
export interface RunOptions<Y> {
  source?: SourceOptions;
  runner?: RunnerOptions;
  sink?: SinkOptions<Y>;
  /**
   * Stores every fetched batch durably before Telegram is told it arrived,
   * and replays the updates whose handlers had not finished when the
   * process died, before fetching new ones. Off by default: without it a crash
   * loses the updates being handled. See `fileJournal()` and `isReplayed()`.
   */
  journal?: UpdateJournal<Y extends { update_id: number } ? Y : never>;
  /**
   * Runs this process as one replica of several: one replica polls Telegram,
   * the fetched updates are stored and shared out by chat, and a replica that
   * dies is replaced. See `redisCluster()` from `grammy-runner/redis`. Not
   * together with `journal`.
   */
  cluster?: Cluster;
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
   * the first start. Calling it makes you the one who reports that error: the
   * runner prints a failure to stderr (unless `runner.silent`) only for a run
   * whose `task()` was never called.
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
  /** Current counters and handler-latency percentiles; `cluster` with the `cluster` option. */
  stats: () => RunnerStats & { cluster?: ClusterStats };
  /**
   * Calls `observer` with every handler, getUpdates and journal-write
   * duration from now on, for exporters whose histograms need every
   * observation (see `grammy-runner/prometheus` and
   * `grammy-runner/opentelemetry`). Costs nothing while no observer is
   * attached. Returns a function that detaches it.
   *
   * @example
   * ```ts
   * const detach = handle.observe({ handled: (seconds) => histogram.observe(seconds) });
   * // later: detach();
   * ```
   */
  observe: (observer: RunnerObserver) => () => void;
}

interface Lifecycle {
  /** Never prints a failure that ends the runner (else: printed when task() was not called). */
  silent: boolean;
  /** Runs after a clean stop has drained the sink; a rejection fails the run. */
  afterDrain?: () => Promise<void>;
  /** Runs at the very end of every run, clean or failed (releases the journal). */
  onEnd?: () => Promise<void>;
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
  /** Numbers the runs, so a run that was stopped and replaced cannot touch its successor. */
  let generation = 0;
  let current: Promise<void> | undefined;

  /** Whether task() was called for the run of that generation: then its caller reports failures. */
  let observed = 0;

  async function loop(mine: number): Promise<void> {
    const active = () => running && generation === mine;
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown) => {
      failure ??= { error };
      log(`runner failed: ${describeError(error)}`);
    };
    try {
      // A run queued behind a draining one may already be stopped: then it must not fetch.
      if (active()) {
        const batches = source.generator();
        // Ask the sink for its room first, so even the first fetch respects the cap.
        source.setGeneratorPace(await sink.handle([]));
        // Not left early on stop: the source ends by itself once closed, after
        // handing out every batch it fetched.
        for await (const batch of batches) {
          source.setGeneratorPace(await sink.handle(batch));
        }
      }
    } catch (error) {
      source.close();
      fail(error);
    }
    if (generation === mine) running = false;
    await sink.drain?.();
    if (failure === undefined && life.afterDrain !== undefined) {
      try {
        await life.afterDrain();
      } catch (error) {
        fail(error);
      }
    }
    if (life.onEnd !== undefined) {
      try {
        await life.onEnd();
      } catch (error) {
        log(`cleanup failed: ${describeError(error)}`);
        failure ??= { error };
      }
    }
    if (failure !== undefined) {
      if (!life.silent) reportUnlessObserved(failure.error, () => observed >= mine);
      throw failure.error;
    }
    log("stopped and drained");
  }

  return {
    start() {
      if (running) return;
      running = true;
      const mine = ++generation;
      const next = (current ?? Promise.resolve()).then(noop, noop).then(() => loop(mine));
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
    task: () => {
      observed = generation;
      return current;
    },
    isRunning: () => running,
  };
}

const RUN_KEYS = ["source", "runner", "sink", "journal", "cluster"] as const;

/**
 * Runs a grammY bot with concurrent long polling and returns a handle to it.
 * Up to `sink.concurrency` (default 500) updates are handled at once; errors
 * go to `bot.catch`. Use `sequentialize()` to keep per-chat order.
 *
 * Unlike @grammyjs/runner, `stop()` waits for running handlers and confirms
 * their updates, retries back off with a cap, and bad options throw here.
 * With `journal`, fetched updates also survive a crash (see `fileJournal()`).
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
  const journal = opts.journal === undefined ? undefined : checkJournal<Y>(opts.journal);
  const metrics = new SinkMetrics();
  const fetcher = createFetcher(bot, opts.runner, metrics.observers);
  const journaling = journal === undefined ? undefined : new Journaling(fetcher, journal, metrics);
  const member = joinCluster(opts.cluster, journal, fetcher, () => botInfoOf(bot).id);
  const sinkOptions = validateSinkOptions(opts.sink);
  const onTimeout = sinkOptions.onTimeout;

  const { sink, queue } = concurrentSink<Y, R>(
    { consume: (update) => bot.handleUpdate(update) },
    botErrorHandler(bot.errorHandler, metrics, fetcher.silent),
    {
      ...sinkOptions,
      // Runs after the error handler, so a failed update is marked done once it is dealt with.
      onSettled: (update, milliseconds) => {
        metrics.record(milliseconds);
        journaling?.markDone(update);
        member?.settle(update);
      },
      onTimeout: (update, task) => {
        metrics.timedOut++;
        log(`update ${update.update_id} timed out`);
        // The runner has given up on it: a crash from here on must not replay it.
        journaling?.markDone(update);
        member?.settle(update);
        onTimeout(update, task);
      },
    },
  );
  const source = createSource(
    {
      supply:
        (member && clusterSupply(member, metrics)) ??
        journaling?.supply.bind(journaling) ??
        ((batchSize, signal) => fetcher.fetch(batchSize, signal)),
    },
    opts.source,
    () => sink.size() === 0,
  );
  const handle = runnerOf(source, sink, {
    silent: fetcher.silent,
    afterDrain:
      member !== undefined
        ? () => member.afterDrain()
        : journaling === undefined
          ? fetcher.confirm
          : () => journaling.afterDrain(),
    // Also after a failure: free the journal's lock.
    onEnd: async () => {
      await journaling?.close();
      await member?.close();
    },
  });
  handle.start();
  return {
    ...handle,
    stats: () => {
      const snapshot = metrics.snapshot(
        fetcher.counters,
        sink.size(),
        queue.parkedCount,
        queue.freeSlots,
      );
      return member === undefined ? snapshot : { ...snapshot, cluster: member.stats() };
    },
    observe: (observer) => metrics.observers.add(observer),
  };
}

/** The `cluster` option's membership for this run, if given (not with a journal). */
function joinCluster<Y extends { update_id: number }>(
  cluster: unknown,
  journal: unknown,
  fetcher: Fetcher<Y>,
  botId: () => number,
): ClusterMember<Y> | undefined {
  if (cluster === undefined) return undefined;
  if (journal !== undefined)
    throw new TypeError(
      "Options `journal` and `cluster` exclude each other: a cluster stores updates itself.",
    );
  return checkCluster(cluster).join<Y>({ fetcher, botId, silent: fetcher.silent });
}

/**
 * The member's supply, counting its replays (updates another replica left
 * unfinished) into `stats().replayed` as a journal's are counted.
 */
function clusterSupply<Y extends { update_id: number }>(
  member: ClusterMember<Y>,
  metrics: SinkMetrics,
): (batchSize: number, signal: GrammySignal) => Promise<Y[]> {
  return async (batchSize, signal) => {
    const batch = await member.supply(batchSize, signal);
    for (const update of batch) if (isReplayed(update)) metrics.replayed++;
    return batch;
  };
}

/**
 * Prints a failure that nobody would see otherwise: one whose task() was not
 * called, decided a tick later so a task() called right after the failure
 * counts. Whoever awaits task() gets the error and reports it once.
 */
function reportUnlessObserved(error: unknown, observed: () => boolean): void {
  setImmediate(() => {
    if (!observed()) console.error(`[grammy-runner] The runner stopped: ${describeError(error)}`);
  });
}
