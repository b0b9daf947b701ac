/**
 * The journal's contract and the replay marks, apart from the file journal:
 * `distribute()` and its workers only need the marks, and importing them from
 * here keeps the file system, zlib and the lock out of their bundles.
 */
import type { Update } from "grammy/types";
import { show } from "../util/options.js";

/**
 * What a journal knows after {@link UpdateJournal.open}: the updates a previous
 * run fetched (so Telegram may already have forgotten them) but never finished,
 * and where fetching should go on.
 *
 * @example
 * ```ts
 * const { pending, offset } = await journal.open();
 * console.log(`${pending.length} updates to handle again, next offset ${offset}`);
 * ```
 */
export interface JournalRecovery<Y> {
  /** Appended and never settled, in the order they were appended. */
  pending: Y[];
  /** The offset passed with the last append, or `undefined` for a new journal. */
  offset: number | undefined;
  /**
   * Optional: the ids of the updates appended lately, done or not, oldest
   * first. `webhook()` remembers them, so that Telegram sending again an
   * update that was stored (and perhaps handled) before a restart is not
   * handled again. `fileJournal()` keeps the last `recentIds` (10,000).
   */
  recent?: number[];
}

/**
 * A durable log of fetched updates, so that a crash (SIGKILL, OOM, power
 * loss) between confirming a batch to Telegram and finishing its handlers does
 * not lose updates. `run(bot, { journal })` uses it like this:
 *
 * 1. `open()` once per start, before the first fetch; the pending updates are
 *    handled again before any new ones, and fetching goes on at `offset`.
 * 2. `append(batch, nextOffset)` for every fetched batch; the next getUpdates
 *    (whose offset confirms the batch to Telegram) waits for its promise.
 * 3. `settle(update_id)` when a handler is done (success, error or timeout).
 * 4. `check()`, if the journal has it, before every getUpdates (awaited if
 *    it returns a promise).
 * 5. On stop: `flush()`, then the final confirmation to Telegram, then `close()`.
 *
 * An `append()` or `flush()` that throws or rejects, or a `check()` that
 * does, ends the runner (`task()` rejects, even during a stop) rather than
 * confirming updates that are not stored. `fileJournal(dir)` is the built-in
 * implementation; implement this interface for other stores (Redis, a
 * database).
 *
 * @example
 * ```ts
 * const pendingById = new Map<number, Update>();
 * const memoryJournal: UpdateJournal = {
 *   open: async () => ({ pending: [...pendingById.values()], offset: undefined }),
 *   append: async (updates) => void updates.forEach((u) => pendingById.set(u.update_id, u)),
 *   settle: (id) => void pendingById.delete(id),
 *   flush: async () => {},
 *   close: async () => {},
 * };
 * run(bot, { journal: memoryJournal }); // survives handle.stop()/start(), not a crash
 * ```
 */
export interface UpdateJournal<Y extends { update_id: number } = Update> {
  /** Takes ownership of the store (rejecting if another process has it) and reads it. */
  open(): Promise<JournalRecovery<Y>>;
  /**
   * Stores a fetched batch and the offset that comes after it. Resolves once
   * both are durable: the runner confirms the batch to Telegram only then.
   * Must return a promise, even for a synchronous store (e.g. an `async`
   * function): the runner fails on anything else rather than take the
   * batch as stored.
   */
  append(updates: readonly Y[], offset: number): Promise<void>;
  /**
   * Records that an update is done. May be buffered: a settle record lost in a
   * crash only makes the update be handled once more. Must not throw.
   */
  settle(updateId: number): void;
  /** Makes everything recorded so far durable, settle records included. */
  flush(): Promise<void>;
  /**
   * Optional: throws (or rejects) if the store can no longer take updates,
   * for instance because another process has taken it over. Called (and
   * awaited if it returns a promise) before every getUpdates, so that a
   * runner that lost its store stops rather than poll on: Telegram ends the
   * older of two polls with 409 Conflict, so its next poll would stop the
   * store's new owner instead. Should be cheap.
   */
  check?(): void | Promise<void>;
  /** Flushes and releases the store; `open()` may be called again afterwards. */
  close(): Promise<void>;
}

/**
 * Update objects handed to the bot from a journal rather than from Telegram.
 * A WeakSet of the very objects passed to `bot.handleUpdate`, since grammY's
 * `ctx.update` is that object: nothing to copy, nothing to clean up. Shared
 * through the global object, like the registry of held locks, so that a handler
 * importing `isReplayed` from the other build (ESM or CJS) still sees it.
 */
const REPLAYED_KEY = Symbol.for("grammy-runner.replayed-updates");
const shared = globalThis as Record<symbol, WeakSet<object> | undefined>;
const replayedUpdates: WeakSet<object> = shared[REPLAYED_KEY] ?? new WeakSet();
shared[REPLAYED_KEY] = replayedUpdates;

/** Marks updates read back from a journal; see {@link isReplayed}. */
export function markReplayed(update: object): void {
  replayedUpdates.add(update);
}

/**
 * Whether `update` was read back from the journal after a crash or an
 * abandoned run, rather than fetched from Telegram. Such an update was handed
 * to the bot before and its handler may have run in part or even completely
 * (its settle record can be lost in a crash), so a handler with side effects
 * that must happen once should deduplicate by `update_id`: e.g. record the
 * `update_id` in the same database transaction as the effect (a unique key),
 * and skip the effect if it is already there. Checking only replayed updates
 * keeps the fast path free of that lookup.
 *
 * It works in `distribute()` worker threads too: the worker's copy of the
 * update carries the mark.
 *
 * @param update `ctx.update`, or the object passed to `bot.handleUpdate`
 * @returns `true` for an update replayed from the journal
 *
 * @example
 * ```ts
 * import { isReplayed } from "grammy-runner";
 *
 * bot.on("message", async (ctx) => {
 *   const id = ctx.update.update_id;
 *   if (isReplayed(ctx.update) && (await db.processed.has(id))) return; // done before the crash
 *   await db.transaction(async (tx) => {
 *     await tx.processed.add(id);
 *     await tx.orders.create(ctx.message);
 *   });
 *   await ctx.reply("Order placed");
 * });
 * ```
 */
export function isReplayed(update: unknown): boolean {
  return typeof update === "object" && update !== null && replayedUpdates.has(update);
}

/**
 * Checks the `journal` option of `run()`: an object with the five functions of
 * {@link UpdateJournal}.
 */
export function checkJournal<Y extends { update_id: number }>(value: unknown): UpdateJournal<Y> {
  const j = value as Partial<Record<keyof UpdateJournal<Y>, unknown>> | null;
  if (typeof j !== "object" || j === null) throw journalError(show(value));
  const missing = (["open", "append", "settle", "flush", "close"] as const).find(
    (key) => typeof j[key] !== "function",
  );
  if (missing !== undefined) throw journalError(`an object without a \`${missing}\` function`);
  if (j.check !== undefined && typeof j.check !== "function")
    throw journalError(`an object whose \`check\` is ${show(j.check)} rather than a function`);
  return value as UpdateJournal<Y>;
}

function journalError(detail: string): TypeError {
  return new TypeError(
    `Option \`journal\` must be an UpdateJournal (an object with open, append, settle, flush and close functions, and optionally check), e.g. fileJournal("./"), but got ${detail}.`,
  );
}
