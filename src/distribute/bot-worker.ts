import { parentPort, workerData } from "node:worker_threads";
import {
  type Api,
  Bot,
  type BotConfig,
  type BotError,
  type Context,
  type PollingOptions,
} from "grammy";
import type { Update } from "grammy/types";
import { markReplayed } from "../journal/journal.js";
import { describeError, logger, redact } from "../util/log.js";
import {
  BOT_WORKER_KEY,
  isUpdateMessage,
  isWorkerSeed,
  type ResultMessage,
  type SerializedError,
} from "./protocol.js";

const log = logger("distribute");

/**
 * A bot that handles the updates which a central bot sends to it through
 * {@link distribute}, in a worker thread. Create one in the worker file and
 * install your handlers on it as on a `Bot`; it cannot `start()` or `stop()`
 * because it never fetches updates itself.
 *
 * Its `botInfo` is taken from the central bot (unless you pass `botInfo`
 * yourself), so a worker makes no `getMe` call when it starts.
 *
 * Errors: if you set an error handler with `bot.catch(...)` in the worker, it
 * handles middleware errors there. Otherwise the error is sent to the central
 * bot, where the `distribute()` middleware rejects with it, so it reaches the
 * central `bot.catch`.
 *
 * Updates start to arrive once the worker file has been imported, top-level
 * `await`s included, so set-up awaited before `bot.use(...)` is fine. A worker
 * file that creates no `BotWorker` fails its updates with an error saying so.
 *
 * Outside a worker thread started by `distribute()`, a `BotWorker` stays inert,
 * so you can import the worker file in unit tests and call `handleUpdate`.
 *
 * @example
 * ```ts
 * // bot-worker.ts
 * import { BotWorker } from "grammy-runner";
 *
 * const bot = new BotWorker(process.env.BOT_TOKEN ?? "");
 * bot.on("message", (ctx) => ctx.reply("Handled in a worker thread!"));
 * ```
 */
export class BotWorker<C extends Context = Context, A extends Api = Api> extends Bot<C, A> {
  /**
   * grammY's own handler logs and rethrows; remembering it lets us tell whether
   * the user installed a handler (by `catch()` or by assigning `errorHandler`)
   * without `instanceof` checks that break with two copies of grammY.
   */
  private readonly defaultErrorHandler: Bot<C, A>["errorHandler"];

  /**
   * @param token The bot token, used by `ctx.api` / `bot.api` in this worker
   * @param config The same options as for `new Bot()`
   *
   * @example
   * ```ts
   * const bot = new BotWorker(process.env.BOT_TOKEN ?? "", {
   *   client: { timeoutSeconds: 30 },
   * });
   * ```
   */
  constructor(token: string, config?: BotConfig<C>) {
    super(token, config);
    this.defaultErrorHandler = this.errorHandler;
    const port = parentPort;
    if (port === null || !isWorkerSeed(workerData)) {
      log("BotWorker created outside a distribute() worker thread; it will not receive updates");
      return;
    }
    if (!this.isInited() && workerData.me !== undefined) this.botInfo = workerData.me;
    port.on("message", (message: unknown) => {
      if (!isUpdateMessage(message)) return;
      if (message.replayed === true) markReplayed(message.update);
      void this.handleFromParent(message.update).then((result) => port.postMessage(result));
    });
    // The thread says it is ready once the worker file is imported; see distribute().
    (globalThis as Record<symbol, unknown>)[Symbol.for(BOT_WORKER_KEY)] = true;
  }

  /**
   * Always throws: a worker receives updates from the central bot and cannot
   * fetch them.
   *
   * @example
   * ```ts
   * // Start the central bot (with `distribute()` installed) instead:
   * run(centralBot);
   * ```
   */
  override start(_options?: PollingOptions): Promise<void> {
    throw new Error(
      "Cannot start a BotWorker: it receives updates from the central bot via distribute(). Start the central bot instead.",
    );
  }

  /**
   * Always throws: a worker is never started, so it cannot be stopped. Stop the
   * central bot (or runner) instead; `close()` on the `distribute()` middleware
   * ends the worker threads.
   *
   * @example
   * ```ts
   * await runner.stop();
   * ```
   */
  override stop(): Promise<void> {
    throw new Error(
      "Cannot stop a BotWorker: it is never started. Stop the central bot or runner instead.",
    );
  }

  /** Never rejects: whatever happens must become a reply, or the parent waits forever. */
  private async handleFromParent(update: Update): Promise<ResultMessage> {
    const id = update.update_id;
    try {
      await this.handleUpdate(update);
      return { id, ok: true };
    } catch (error) {
      if (this.errorHandler === this.defaultErrorHandler || !isBotError(error)) {
        return { id, ok: false, error: serialize(isBotError(error) ? error.error : error) };
      }
      try {
        await this.errorHandler(error as BotError<C>);
        return { id, ok: true };
      } catch (handlerError) {
        return { id, ok: false, error: serialize(handlerError) };
      }
    }
  }
}

/** Shape check instead of `instanceof BotError`, which fails across copies of grammY. */
function isBotError(error: unknown): error is { error: unknown; ctx: unknown } {
  return typeof error === "object" && error !== null && "error" in error && "ctx" in error;
}

function serialize(error: unknown): SerializedError {
  const e = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : {};
  return {
    message: describeError(error),
    name: typeof e.name === "string" ? e.name : "Error",
    ...(typeof e.stack === "string" ? { stack: redact(e.stack) } : {}),
  };
}
