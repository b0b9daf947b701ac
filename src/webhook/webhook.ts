/**
 * `webhook()`: serving a bot from Telegram's webhook requests through the
 * same sink as polling, and the handle it returns.
 */

import type { Cluster, ClusterStats } from "../cluster/cluster.js";
import type { SinkOptions } from "../runner/sink.js";
import type { RunnerStats } from "../runner/stats.js";
import { describeError, logger } from "../util/log.js";
import type { RunnerObserver } from "../util/observe.js";
import { checkFunction, show } from "../util/options.js";
import { adaptersFor, type WebhookAdapters } from "./adapters.js";
import { ClusterIntake } from "./cluster-intake.js";
import { type WebhookBot, type WebhookCounters, WebhookIntake } from "./intake.js";
import {
  type ValidWebhookOptions,
  validateWebhookOptions,
  type WebhookOptions,
} from "./options.js";
import type { IncomingWebhook, WebhookAnswer } from "./request.js";
import { type SetWebhookOptions, setWebhook } from "./set-webhook.js";

const log = logger("webhook");

/**
 * `handle.stats()` of a webhook: the runner's counters (`fetched` counts
 * accepted updates, `invalidUpdates` bad requests; no getUpdates calls) plus
 * the webhook's own.
 *
 * @example
 * ```ts
 * const s = handle.stats();
 * console.log(`${s.webhook.accepted} accepted, ${s.webhook.duplicates} re-sends dropped`);
 * ```
 */
export interface WebhookStats extends RunnerStats {
  webhook: WebhookCounters;
  /** With the `cluster` option: this replica's partitions, lag and replays. */
  cluster?: ClusterStats;
}

/**
 * Controls a webhook bot, like the handle of `run()`.
 *
 * @example
 * ```ts
 * const handle = webhook(bot, { secretToken });
 * const server = http.createServer(handle.callback("http")).listen(8080);
 * process.once("SIGTERM", async () => {
 *   await handle.stop(); // refuses new updates (Telegram re-sends them later), drains
 *   server.close();
 * });
 * ```
 */
export interface WebhookHandle {
  /**
   * The request handler for a framework: `"http"`, `"express"`,
   * `"fastify"`, `"hono"` or `"fetch"` (a Fetch API `Request` handler).
   */
  callback<A extends keyof WebhookAdapters>(adapter: A): WebhookAdapters[A];
  /**
   * Calls `setWebhook` with `url`, `secret_token` set to `secretToken` and
   * `options` (validated here). Switching back to polling: `run(bot)`
   * deletes the webhook when Telegram answers getUpdates with 409.
   */
  setWebhook(url: string, options?: SetWebhookOptions): Promise<void>;
  /** Checks and takes one request, however it arrived; resolves with the answer to send. */
  receive(request: IncomingWebhook): Promise<WebhookAnswer>;
  /**
   * Stops taking updates (requests get 503, so Telegram sends them again
   * later), waits for running handlers and closes the journal. Never rejects;
   * safe to call again.
   */
  stop(): Promise<void>;
  /** Number of updates being handled, parked or waiting for a slot. */
  size(): number;
  /**
   * Resolves when a stop has drained; rejects if the webhook failed (a journal
   * that cannot be opened). `undefined` while running.
   */
  task(): Promise<void> | undefined;
  /** Whether updates are accepted; `false` from the moment `stop()` is called. */
  isRunning(): boolean;
  /** Current counters and handler-latency percentiles. */
  stats(): WebhookStats;
  /**
   * Calls `observer` with every handler duration from now on, as
   * `run()`'s handle does, so the metrics exporters work with webhooks too.
   * Returns a function that detaches it.
   *
   * @example
   * ```ts
   * const detach = handle.observe({ handled: (seconds) => console.log(seconds) });
   * ```
   */
  observe(observer: RunnerObserver): () => void;
}

/**
 * Serves a grammY bot from webhook requests with the runner's guarantees:
 * every update goes through the same sink as `run()` (concurrency cap,
 * `sequentialize` parking, `sink.timeout`, `bot.catch`, stats); a request
 * waits, held open, while the sink is full; a re-sent update is handled once.
 *
 * Telegram gets its answer, with a `journal`, as soon as the update is
 * stored (a slow handler never makes it re-send, a crash loses nothing);
 * without one, when the handler settles or after `answerAfter` (default 5 s),
 * whichever comes first.
 *
 * @param bot A grammY bot
 * @param options Secret, sink, journal and limits
 * @returns A handle with `callback(adapter)` for your web framework
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { Bot } from "grammy";
 * import { sequentialize, webhook } from "grammy-runner";
 *
 * const bot = new Bot(process.env.BOT_TOKEN!);
 * bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
 * bot.on("message", (ctx) => ctx.reply("Got it"));
 * const secretToken = process.env.WEBHOOK_SECRET!;
 * const handle = webhook(bot, { secretToken });
 * createServer(handle.callback("http")).listen(8080);
 * await handle.setWebhook("https://example.com/bot", { max_connections: 40 });
 * ```
 */
export function webhook<Y extends { update_id: number }, R>(
  bot: WebhookBot<Y, R>,
  options?: WebhookOptions<Y>,
): WebhookHandle {
  if (typeof bot !== "object" || bot === null || typeof bot.handleUpdate !== "function")
    throw new TypeError(
      `Expected a grammY Bot as the first argument, but got ${typeof bot === "object" && bot !== null ? "an object without a `handleUpdate` function" : show(bot)}.`,
    );
  checkFunction("bot.errorHandler", bot.errorHandler);
  const opts = validateWebhookOptions(options);
  if (opts.secretToken === undefined) warnNoSecret(opts.silent);
  const engine =
    opts.cluster === undefined
      ? singleEngine(bot, opts)
      : clusterEngine(bot, opts, opts.cluster, options?.sink);
  const adapters = adaptersFor(engine.receive);
  return {
    ...engine,
    callback: (adapter) => {
      if (!Object.hasOwn(adapters, adapter))
        throw new TypeError(
          `Unknown webhook adapter ${show(adapter)}; expected one of ${Object.keys(adapters)
            .map((a) => `"${a}"`)
            .join(", ")}.`,
        );
      return adapters[adapter];
    },
    setWebhook: (url, other) => setWebhook(bot.api, url, opts.secretToken, other),
  };
}

/** The handle without the parts every engine shares. */
type Engine = Omit<WebhookHandle, "callback" | "setWebhook">;

/** One process: the intake puts updates straight into its sink (after the journal). */
function singleEngine<Y extends { update_id: number }, R>(
  bot: WebhookBot<Y, R>,
  opts: ValidWebhookOptions<Y>,
): Engine {
  const intake = new WebhookIntake(bot, opts);
  // Replays the journal and initialises the bot before the first request.
  intake.prepare().catch(logStartFailure);
  return {
    receive: (request) => intake.receive(request),
    stop: () => intake.stop(),
    size: () => intake.queue.length,
    task: () => intake.task(),
    isRunning: () => intake.running,
    stats: () => ({
      ...intake.metrics.snapshot(
        {
          getUpdatesCalls: 0,
          fetched: intake.counters.accepted,
          retries: 0,
          invalid: intake.counters.badRequests,
          lastError: intake.lastError,
        },
        intake.queue.length,
        intake.queue.parkedCount,
        intake.queue.freeSlots,
      ),
      webhook: { ...intake.counters },
    }),
    observe: (observer) => intake.metrics.observers.add(observer),
  };
}

/** A replica of a cluster: the intake stores into the cluster, `run()` consumes this replica's share. */
function clusterEngine<Y extends { update_id: number }, R>(
  bot: WebhookBot<Y, R>,
  opts: ValidWebhookOptions<Y>,
  cluster: Cluster,
  sink: SinkOptions<Y> | undefined,
): Engine {
  const intake = new ClusterIntake(bot, opts, cluster, sink);
  const { runner } = intake;
  return {
    receive: (request) => intake.receive(request),
    stop: () => intake.stop(),
    size: () => runner.size(),
    task: () => intake.task(),
    isRunning: () => intake.running,
    stats: () => {
      const stats = runner.stats();
      return {
        ...stats,
        fetched: intake.counters.accepted,
        invalidUpdates: intake.counters.badRequests,
        lastError: intake.lastError ?? stats.lastError,
        webhook: { ...intake.counters },
      };
    },
    observe: (observer) => runner.observe(observer),
  };
}

/** A failed start is retried by the next request (or ends the webhook, for the journal). */
function logStartFailure(error: unknown): void {
  log(`start failed: ${describeError(error)}`);
}

function warnNoSecret(silent: boolean): void {
  const message =
    "webhook() has no secretToken: anyone who learns the URL can send it updates. Pass secretToken and the same secret_token to setWebhook.";
  log(message);
  if (!silent) console.warn(`[grammy-runner] ${message}`);
}
