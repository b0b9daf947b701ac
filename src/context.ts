import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What the sink knows about the update whose handler is running. Stored in an
 * AsyncLocalStorage so that code deep inside middleware can reach it without a
 * new parameter, which keeps `bot.handleUpdate(update)` as the only entry point.
 */
export interface UpdateScope {
  /** Created lazily: most handlers never ask for it. */
  controller?: AbortController;
  /** Set when the handler ran out of time; a signal asked for later starts aborted. */
  timedOut?: HandlerTimeoutError;
  /**
   * Gives the update's concurrency slot back while it waits for something
   * other than CPU or I/O (its turn under `sequentialize`). Returns `false` if
   * it holds no slot (e.g. it already timed out).
   */
  park(): boolean;
  /** Takes a slot again after `park()`; resolves once it has one. */
  resume(): Promise<void>;
}

export const scopeStorage = new AsyncLocalStorage<UpdateScope>();

/**
 * Parks the update being handled, if a runner sink handles it; returns the
 * scope to `resume()` later, or `undefined` when there is nothing to give back
 * (webhooks, `bot.start()`).
 */
export function parkCurrentUpdate(): UpdateScope | undefined {
  const scope = scopeStorage.getStore();
  return scope?.park() ? scope : undefined;
}

/**
 * The error an update's signal is aborted with when its handler exceeds
 * `sink.timeout.milliseconds`.
 *
 * @example
 * ```ts
 * const signal = updateSignal();
 * signal?.addEventListener("abort", () => {
 *   if (signal.reason instanceof HandlerTimeoutError) console.log("gave up");
 * });
 * ```
 */
export class HandlerTimeoutError extends Error {
  override readonly name = "HandlerTimeoutError";
  constructor(readonly milliseconds: number) {
    super(`The update handler exceeded its timeout of ${milliseconds} ms`);
  }
}

/**
 * Returns the `AbortSignal` of the update whose middleware is running, or
 * `undefined` outside a runner sink (e.g. under webhooks or `bot.start()`).
 * The signal is aborted with a {@link HandlerTimeoutError} when the handler
 * exceeds `sink.timeout.milliseconds`: pass it to `fetch`, timers or
 * `bot.api` calls so that work the runner has given up on stops too.
 *
 * @example
 * ```ts
 * import { run, updateSignal } from "grammy-runner";
 *
 * bot.command("report", async (ctx) => {
 *   const signal = updateSignal();
 *   const res = await fetch("https://example.com/slow-report", { signal });
 *   await ctx.reply(await res.text());
 * });
 * run(bot, { sink: { timeout: { milliseconds: 10_000, handler: () => {} } } });
 * ```
 */
export function updateSignal(): AbortSignal | undefined {
  const scope = scopeStorage.getStore();
  if (scope === undefined) return undefined;
  if (scope.controller === undefined) {
    scope.controller = new AbortController();
    if (scope.timedOut !== undefined) scope.controller.abort(scope.timedOut);
  }
  return scope.controller.signal;
}
