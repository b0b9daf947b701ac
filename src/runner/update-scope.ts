/**
 * The per-update scope: what the sink knows about an update while its
 * handler runs (its concurrency slot, its abort signal, its timeout), which
 * `updateSignal()` and `sequentialize`'s parking reach from the handler's
 * context. This module keeps the scopes and hands them out.
 */

/**
 * The per-update scope of one update. Found through the update object itself
 * (grammY's `ctx.update` is the object the sink passed to `bot.handleUpdate`),
 * which costs one WeakMap entry per update; AsyncLocalStorage would make every
 * promise of every handler slower on Node 20.
 */
export interface UpdateScope {
  /** Created lazily: most handlers never ask for it. */
  controller?: AbortController;
  /** Set when the handler ran out of time; a signal asked for later starts aborted. */
  timedOut?: HandlerTimeoutError;
  /** Called when the handler runs out of time (see {@link whenTimedOut}). */
  onTimeout?: () => void;
  /**
   * Gives the update's concurrency slot back while it waits for something
   * other than CPU or I/O (its turn under `sequentialize`). Returns `false` if
   * it holds no slot (e.g. it already timed out).
   */
  park(): boolean;
  /** Takes a slot again after `park()`; resolves once it has one. */
  resume(): Promise<void>;
}

const scopes = new WeakMap<object, UpdateScope>();

/** Registers the scope of an element the queue starts; primitives have none. */
export function enterScope(elem: unknown, scope: UpdateScope): void {
  if (typeof elem === "object" && elem !== null) scopes.set(elem, scope);
}

/** Forgets the scope once the element's task is done, unless a newer task took the element over. */
export function leaveScope(elem: unknown, scope: UpdateScope): void {
  if (typeof elem === "object" && elem !== null && scopes.get(elem) === scope) scopes.delete(elem);
}

/** The scope of a grammY context (through `ctx.update`) or of an update itself. */
function scopeOf(ctxOrUpdate: unknown): UpdateScope | undefined {
  if (typeof ctxOrUpdate !== "object" || ctxOrUpdate === null) return undefined;
  const own = scopes.get(ctxOrUpdate);
  if (own !== undefined) return own;
  const update = (ctxOrUpdate as { update?: unknown }).update;
  return typeof update === "object" && update !== null ? scopes.get(update) : undefined;
}

/**
 * Parks the update of `ctx` if a runner sink handles it; returns the scope to
 * `resume()` later, or `undefined` when there is nothing to give back
 * (webhooks, `bot.start()`).
 */
export function parkUpdate(ctx: unknown): UpdateScope | undefined {
  const scope = scopeOf(ctx);
  return scope?.park() ? scope : undefined;
}

/**
 * Calls `callback` when the handler of `ctx`'s update runs out of time under
 * a runner sink, at once if it already has; outside a runner, never. Lets
 * `sequentialize` hand the key to the next update when the runner gives up
 * on this one, since the hung handler may never settle.
 */
export function whenTimedOut(ctx: unknown, callback: () => void): void {
  const scope = scopeOf(ctx);
  if (scope === undefined) return;
  if (scope.timedOut !== undefined) {
    callback();
    return;
  }
  const earlier = scope.onTimeout;
  scope.onTimeout =
    earlier === undefined
      ? callback
      : () => {
          earlier();
          callback();
        };
}

/**
 * The error an update's signal is aborted with when its handler exceeds
 * `sink.timeout.milliseconds`.
 *
 * @example
 * ```ts
 * const signal = updateSignal(ctx);
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
 * Returns the `AbortSignal` of the update that `ctx` (or the update itself)
 * belongs to, or `undefined` if no runner sink is handling it (webhooks,
 * `bot.start()`). The signal is aborted with a {@link HandlerTimeoutError}
 * when the handler exceeds `sink.timeout.milliseconds`: pass it to `fetch`,
 * timers or `bot.api` calls so that work the runner has given up on stops too.
 *
 * @param ctx A grammY context (its `ctx.update` is looked up) or an update
 *
 * @example
 * ```ts
 * import { run, updateSignal } from "grammy-runner";
 *
 * bot.command("report", async (ctx) => {
 *   const res = await fetch("https://example.com/slow-report", { signal: updateSignal(ctx) });
 *   await ctx.reply(await res.text());
 * });
 * run(bot, { sink: { timeout: { milliseconds: 10_000, handler: () => {} } } });
 * ```
 */
export function updateSignal(ctx: object): AbortSignal | undefined {
  const scope = scopeOf(ctx);
  if (scope === undefined) return undefined;
  if (scope.controller === undefined) {
    scope.controller = new AbortController();
    if (scope.timedOut !== undefined) scope.controller.abort(scope.timedOut);
  }
  return scope.controller.signal;
}
