/**
 * Handing a failed update to the bot's error handler, shared by `run()` and
 * `webhook()`: count it, call `bot.catch`'s handler, and survive that handler
 * throwing too.
 */
import { describeError, logger, redact } from "../util/log.js";
import type { SinkMetrics } from "./stats.js";

const log = logger("runner");

/**
 * The sink's error handler for a bot: counts the failure and passes it to
 * `errorHandler` (grammY's `bot.errorHandler`, set by `bot.catch`).
 *
 * @example
 * ```ts
 * const onError = botErrorHandler(bot.errorHandler, metrics, false);
 * const { sink } = concurrentSink(consumer, onError, options);
 * ```
 */
export function botErrorHandler<R>(
  errorHandler: (error: R) => unknown,
  metrics: SinkMetrics,
  silent: boolean,
): (error: R) => Promise<void> {
  return async (error) => {
    metrics.failed++;
    try {
      await errorHandler(error);
    } catch (secondary) {
      log(`error handler threw: ${describeError(secondary)}`);
      if (!silent) printHandlerFailure(secondary);
    }
  };
}

function printHandlerFailure(error: unknown): void {
  const detail = error instanceof Error && error.stack ? error.stack : describeError(error);
  console.error(
    `[grammy-runner] The bot's error handler threw while handling an error; the runner goes on. Set a handler that does not throw with bot.catch(). ${redact(detail)}`,
  );
}
