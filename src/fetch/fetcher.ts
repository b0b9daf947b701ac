import type { AbortSignal as GrammySignal } from "abort-controller";
import { describeError, logger, redact } from "../util/log.js";
import { Observers } from "../util/observe.js";
import { show } from "../util/options.js";
import { type SignalLike, sleep } from "../util/timers.js";
import {
  apiHostOf,
  type BotAdapter,
  botInfoOf,
  checkBot,
  getMeOf,
  hideToken,
} from "./bot-adapter.js";
import { type FetchCounters, newFetchCounters } from "./counters.js";
import { checkRunnerOptions, type FetcherSettings, type RunnerOptions } from "./options.js";
import { Backoff, classify, fatalError } from "./retry.js";

const log = logger("fetch");

/** How long the final offset confirmation on stop may take. */
const CONFIRM_TIMEOUT_MS = 5_000;

/** The fetcher as the runner uses it: `fetch` plus the stop-time confirmation. */
export interface Fetcher<Y> {
  /** `timeout` (seconds) lowers the long-poll timeout of this call, e.g. to end it within a lease. */
  fetch: (batchSize: number, signal: GrammySignal, timeout?: number) => Promise<Y[]>;
  /** Tells Telegram that every fetched update is done, unless it already knows. */
  confirm: () => Promise<void>;
  /** Initialises the bot (init, drop_pending_updates, onStart) unless done; `fetch` does it too. */
  init: (signal: GrammySignal) => Promise<void>;
  /**
   * Moves the offset of the next getUpdates forward to `offset` (never back):
   * a journal resumes where the previous process stopped fetching. With
   * `rewind`, back too: a cluster's new leader resumes where the stored batches end.
   */
  startAt: (offset: number, rewind?: boolean) => void;
  /** The offset of the next getUpdates: one more than the last update fetched. */
  nextOffset: () => number;
  counters: FetchCounters;
  silent: boolean;
}

/** Validates runner options and builds the fetcher; used by `run()` and `createUpdateFetcher()`. */
export function createFetcher<Y extends { update_id: number }, R>(
  bot: BotAdapter<Y, R>,
  options: RunnerOptions | undefined,
  observers = new Observers(),
): Fetcher<Y> {
  checkBot(bot);
  hideToken(bot);
  const settings = checkRunnerOptions(bot, options);
  const fetcher = new UpdateFetcher(bot, settings, observers);
  // Bound: the runner hands these on as plain functions.
  return {
    fetch: (batchSize, signal, timeout) => fetcher.fetch(batchSize, signal, timeout),
    confirm: () => fetcher.confirm(),
    init: (signal) => fetcher.init(signal),
    startAt: (offset, rewind) => fetcher.startAt(offset, rewind),
    nextOffset: () => fetcher.nextOffset(),
    counters: fetcher.counters,
    silent: settings.silent,
  };
}

/**
 * The fetch loop: initialises the bot once, sends getUpdates from the
 * current offset, keeps the usable updates, and retries failures by the
 * {@link Backoff} policy until they succeed or turn fatal.
 */
class UpdateFetcher<Y extends { update_id: number }, R> {
  readonly counters: FetchCounters = newFetchCounters();
  /** Next update_id we expect; everything below it was fetched. */
  private offset = 0;
  /** The offset Telegram was last told about. */
  private confirmed = 0;
  private started = false;

  constructor(
    private readonly bot: BotAdapter<Y, R>,
    private readonly settings: FetcherSettings,
    private readonly observers: Observers,
  ) {}

  async init(signal: GrammySignal): Promise<void> {
    if (!this.started) await this.start(signal);
  }

  startAt(next: number, rewind = false): void {
    if (Number.isSafeInteger(next) && (next > this.offset || (rewind && next >= 0))) {
      log(`starting at offset ${next}`);
      this.offset = next;
    }
  }

  nextOffset(): number {
    return this.offset;
  }

  async fetch(batchSize: number, signal: GrammySignal, maxTimeout?: number): Promise<Y[]> {
    if (!this.started) await this.start(signal);
    const { allowed } = this.settings;
    const timeout = Math.min(this.settings.timeout, maxTimeout ?? Number.POSITIVE_INFINITY);
    const limit = Math.max(1, Math.min(100, Math.floor(batchSize) || 1));
    const args = {
      timeout,
      ...(allowed && { allowed_updates: allowed }),
      offset: this.offset,
      limit,
    };
    const updates = await this.retrying("getUpdates", signal, async () => {
      this.counters.getUpdatesCalls++;
      const sent = args.offset;
      const answer = await this.observers.time(
        this.bot.api.getUpdates(args, signal),
        (seconds, ok) => signal.aborted || this.observers.getUpdates(seconds, ok),
      );
      this.confirmed = Math.max(this.confirmed, sent);
      return this.accept(answer);
    });
    this.counters.fetched += updates.length;
    return updates;
  }

  async confirm(): Promise<void> {
    if (this.offset <= this.confirmed) return;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), CONFIRM_TIMEOUT_MS);
    try {
      this.counters.getUpdatesCalls++;
      const sent = this.offset;
      await this.bot.api.getUpdates(
        { offset: sent, limit: 1, timeout: 0 },
        controller.signal as unknown as GrammySignal,
      );
      this.confirmed = Math.max(this.confirmed, sent);
      log(`confirmed offset ${sent}`);
    } catch (error) {
      this.warn(
        `Could not confirm handled updates (${describeError(error)}); Telegram may send them again.`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private warn(message: string): void {
    log(message);
    if (!this.settings.silent) console.error(`[grammy-runner] ${redact(message)}`);
  }

  private async start(signal: GrammySignal): Promise<void> {
    const { bot, settings } = this;
    if (bot.init !== undefined) {
      const getMe = getMeOf(bot);
      if (getMe !== undefined)
        await this.retrying(`getMe to the Bot API at ${apiHostOf(bot)}`, signal, () =>
          getMe(signal),
        );
      const init = bot.init;
      await this.retrying("bot.init()", signal, () => init.call(bot, signal));
    }
    const deleteHook = bot.api.deleteWebhook;
    if (settings.dropPending && deleteHook !== undefined) {
      await this.retrying("deleteWebhook", signal, () =>
        deleteHook.call(bot.api, { drop_pending_updates: true }, signal),
      );
    }
    if (settings.onStart !== undefined) await settings.onStart(botInfoOf(bot));
    this.started = true;
  }

  /**
   * Runs `call` until it succeeds, waiting between failures; throws a
   * RunnerError on fatal answers, or the abort error once `signal` aborts.
   */
  private async retrying<T>(what: string, signal: SignalLike, call: () => Promise<T>): Promise<T> {
    const backoff = new Backoff(this.settings.retry);
    let webhookDeleted = false;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (signal.aborted) throw error;
        this.counters.lastError = describeError(error);
        backoff.failed();
        const fatal = classify(error);
        if (fatal === "webhook" && this.canRemoveWebhook() && !webhookDeleted) {
          // Once only: a webhook that keeps coming back is someone else's.
          if (await this.removeWebhook(signal)) {
            webhookDeleted = true;
            continue;
          }
        } else if (fatal !== undefined) {
          throw fatalError(fatal, error);
        }
        const delay = backoff.next(error, what, this.counters.lastError);
        this.counters.retries++;
        this.warn(
          `${what} failed (${this.counters.lastError}); retrying in ${Math.round(delay)} ms.`,
        );
        if (!(await sleep(delay, signal))) throw new Error("aborted");
      }
    }
  }

  private canRemoveWebhook(): boolean {
    return this.settings.deleteWebhook && this.bot.api.deleteWebhook !== undefined;
  }

  /** Deletes the bot's webhook; `false` if the call failed. */
  private async removeWebhook(signal: SignalLike): Promise<boolean> {
    const remove = this.bot.api.deleteWebhook;
    if (remove === undefined) return false;
    this.warn("A webhook is set for this bot; deleting it to use long polling.");
    try {
      await remove.call(this.bot.api, {}, signal as GrammySignal);
      return true;
    } catch (error) {
      if (signal.aborted) throw error;
      this.counters.lastError = describeError(error);
      return false;
    }
  }

  /**
   * Keeps the updates Telegram should have sent: objects with an integer
   * update_id at or above the offset, in increasing order, each once. A
   * non-empty answer with nothing usable throws so the call is retried with
   * backoff instead of being repeated at once forever.
   */
  private accept(answer: unknown): Y[] {
    if (!Array.isArray(answer))
      throw new Error(`getUpdates answered ${show(answer)} instead of an array of updates`);
    const last = lastIdIfClean(answer, this.offset);
    if (last !== undefined) {
      if (answer.length > 0) this.offset = last + 1;
      return answer as Y[];
    }
    const kept: Y[] = [];
    let next = this.offset;
    for (const u of answer) {
      const id = (u as { update_id?: unknown } | null)?.update_id;
      if (typeof id === "number" && Number.isSafeInteger(id) && id >= next) {
        kept.push(u as Y);
        next = id + 1;
      } else {
        this.counters.invalid++;
        log(`skipped an invalid, duplicate or out-of-order update: ${show(id)}`);
      }
    }
    if (kept.length === 0)
      throw new Error(`getUpdates answered ${answer.length} updates, none of them usable`);
    this.warn(`skipped ${answer.length - kept.length} invalid, duplicate or out-of-order updates`);
    this.offset = next;
    return kept;
  }
}

/**
 * The last update_id of `answer` if every update in it is usable from
 * `offset` on, the common case that needs no copy; `undefined` otherwise.
 */
function lastIdIfClean(answer: readonly unknown[], offset: number): number | undefined {
  let last = offset - 1;
  for (const u of answer) {
    const id = (u as { update_id?: unknown } | null)?.update_id;
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= last) return undefined;
    last = id;
  }
  return last;
}

/**
 * Creates a function that fetches the next updates of `bot` every time it is
 * called: it tracks the offset, initialises the bot on the first call, and
 * retries failures with capped, jittered backoff (429 waits `retry_after`).
 * It rejects with a {@link RunnerError} on a wrong token (401), another poller
 * (409) or when failures last longer than `maxRetryTime`.
 *
 * @param bot A grammY bot
 * @param options How to fetch and retry
 * @returns `(batchSize, signal) => Promise<updates>`, usable as an {@link UpdateSupplier}'s `supply`
 *
 * @example
 * ```ts
 * const fetchUpdates = createUpdateFetcher(bot, { fetch: { timeout: 10 } });
 * const controller = new AbortController();
 * const updates = await fetchUpdates(100, controller.signal);
 * ```
 */
export function createUpdateFetcher<Y extends { update_id: number }, R>(
  bot: BotAdapter<Y, R>,
  options?: RunnerOptions,
): (batchSize: number, signal: GrammySignal) => Promise<Y[]> {
  return createFetcher(bot, options).fetch;
}
