/**
 * The webhook's intake: checks a request, drops a re-sent update, waits for
 * room in the sink (holding the request open), stores the update in the
 * journal if there is one, puts it in the same sink as polling, and decides
 * when Telegram gets its answer.
 */
import { markReplayed } from "../journal/journal.js";
import { botErrorHandler } from "../runner/bot-errors.js";
import type { DecayingDeque } from "../runner/queue.js";
import { concurrentSink } from "../runner/sink.js";
import { SinkMetrics } from "../runner/stats.js";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { RecentIds } from "../util/recent-ids.js";
import { checkRequest, type RequestGate, requestGate } from "./checks.js";
import { JournalWriter } from "./journal-writer.js";
import type { ValidWebhookOptions } from "./options.js";
import { answer, type IncomingWebhook, type WebhookAnswer } from "./request.js";
import type { SetWebhookApi } from "./set-webhook.js";

const log = logger("webhook");

/**
 * The parts of a grammY `Bot` a webhook uses.
 *
 * @example
 * ```ts
 * const target: WebhookBot<Update, BotError> = bot;
 * ```
 */
export interface WebhookBot<Y, R> {
  init?: () => Promise<void>;
  handleUpdate: (update: Y) => Promise<void>;
  errorHandler: (error: R) => unknown;
  /** Used by `handle.setWebhook()` only. */
  api?: SetWebhookApi;
}

/**
 * What the webhook did with requests, in `handle.stats().webhook`.
 *
 * @example
 * ```ts
 * const { accepted, duplicates, unauthorized } = handle.stats().webhook;
 * ```
 */
export interface WebhookCounters {
  /** Updates accepted into the sink (stored first, with a journal). */
  accepted: number;
  /** Updates Telegram sent again, answered 200 and not handled again. */
  duplicates: number;
  /** Requests with a wrong or missing secret (401). */
  unauthorized: number;
  /** Requests whose body was not an update (400). */
  badRequests: number;
  /** Requests whose body was over `maxBodySize` (413). */
  tooLarge: number;
  /** Requests with another method than POST (405). */
  wrongMethod: number;
  /** Requests refused while starting or stopping (503): Telegram sends them again later. */
  refused: number;
  /** Answers sent after `answerAfter` while the handler still ran (no journal). */
  answeredEarly: number;
  /** Updates the journal failed to store (answered 500, so Telegram sends them again). */
  journalErrors: number;
  /** Updates the cluster failed to store (answered 503, so Telegram sends them again). */
  clusterErrors: number;
}

/** All counters at zero. */
export function newCounters(): WebhookCounters {
  return {
    accepted: 0,
    duplicates: 0,
    unauthorized: 0,
    badRequests: 0,
    tooLarge: 0,
    wrongMethod: 0,
    refused: 0,
    answeredEarly: 0,
    journalErrors: 0,
    clusterErrors: 0,
  };
}

type State = "running" | "stopping" | "failed";

const OK = answer(200, "");
/** While starting or stopping: Telegram sends the update again after a while. */
export const UNAVAILABLE = answer(503, "Service Unavailable: try again later", {
  "retry-after": "1",
});

/** The engine behind `webhook()`; see there. */
export class WebhookIntake<Y extends { update_id: number }, R> {
  readonly metrics = new SinkMetrics();
  readonly counters = newCounters();
  lastError: string | undefined;
  readonly queue: DecayingDeque<Y, R>;
  private state: State = "running";
  private readonly recent: RecentIds;
  private readonly gate: RequestGate;
  /** Updates between their first request and the sink: a re-send waits for the outcome. */
  private readonly admitting = new Map<number, Promise<boolean>>();
  /** Requests take turns waiting for room, in arrival order. */
  private admission: Promise<unknown> = Promise.resolve();
  /** Room promised to requests whose update is being stored. */
  private reserved = 0;
  private wakers = new Set<() => void>();
  private readonly answerWaiters = new Map<Y, () => void>();
  private readonly busy = new Set<Promise<unknown>>();
  private writer: JournalWriter<Y> | undefined;
  private recovered: Y[] = [];
  private preparing: Promise<void> | undefined;
  private finishing: Promise<void> | undefined;

  constructor(
    private readonly bot: WebhookBot<Y, R>,
    private readonly options: ValidWebhookOptions<Y>,
  ) {
    this.recent = new RecentIds(options.dedupWindow);
    this.gate = requestGate(options, this.counters, this);
    this.queue = concurrentSink<Y, R>(
      { consume: (update) => bot.handleUpdate(update) },
      botErrorHandler(bot.errorHandler, this.metrics, options.silent),
      {
        ...options.sink,
        onSettled: (update, milliseconds) => {
          this.metrics.record(milliseconds);
          this.done(update);
        },
        onTimeout: (update, task) => {
          this.metrics.timedOut++;
          log(`update ${update.update_id} timed out`);
          this.done(update);
          options.sink.onTimeout(update, task);
        },
      },
    ).queue;
  }

  get running(): boolean {
    return this.state === "running";
  }

  /** Opens the journal, replays it and initialises the bot; safe to call again after a failure. */
  prepare(): Promise<void> {
    this.preparing ??= this.open().catch((error: unknown) => {
      this.preparing = undefined;
      throw error;
    });
    return this.preparing;
  }

  async receive(req: IncomingWebhook): Promise<WebhookAnswer> {
    const checked = await checkRequest(req, this.gate);
    return "answer" in checked ? checked.answer : this.accept(checked.update as Y);
  }

  /** Stops taking updates, drains the sink, flushes and closes the journal. */
  stop(): Promise<void> {
    if (this.state === "running") {
      this.state = "stopping";
      this.wake();
      this.finishing = this.shutdown();
      this.finishing.catch(noop);
    }
    return (this.finishing ?? Promise.resolve()).then(noop, noop);
  }

  task(): Promise<void> | undefined {
    return this.finishing;
  }

  /** Ends the webhook on an error it cannot go on after (a journal that cannot be opened). */
  fail(error: unknown): void {
    if (this.state !== "running") return;
    this.state = "failed";
    this.lastError = describeError(error);
    log(`webhook failed: ${this.lastError}`);
    if (!this.options.silent)
      console.error(`[grammy-runner] The webhook stopped: ${this.lastError}`);
    this.wake();
    this.finishing = this.shutdown().then(() => {
      throw error;
    });
    this.finishing.catch(noop);
  }

  private async accept(update: Y): Promise<WebhookAnswer> {
    // First: the journal's replay fills the dedup window.
    try {
      await this.prepare();
    } catch (error) {
      this.lastError = describeError(error);
      log(`not ready: ${this.lastError}`);
      return this.refuse();
    }
    const id = update.update_id;
    if (this.recent.has(id)) {
      this.counters.duplicates++;
      return OK;
    }
    const earlier = this.admitting.get(id);
    if (earlier !== undefined) {
      this.counters.duplicates++;
      return (await earlier) ? OK : this.refuse();
    }
    let admitted: (accepted: boolean) => void = noop;
    this.admitting.set(id, new Promise<boolean>((resolve) => (admitted = resolve)));
    const settle = (accepted: boolean) => {
      this.admitting.delete(id);
      admitted(accepted);
    };
    const work = this.admit(update, settle);
    this.busy.add(work);
    try {
      return await work;
    } finally {
      this.busy.delete(work);
      settle(false);
    }
  }

  private async admit(update: Y, settle: (accepted: boolean) => void): Promise<WebhookAnswer> {
    if (!(await this.room())) return this.refuse();
    let released = false;
    const hand = () => {
      released = true;
      this.recent.add(update.update_id);
      this.counters.accepted++;
      this.queue.add([update]).catch(noop);
      this.reserved--;
      this.wake();
      settle(true);
    };
    if (this.writer === undefined) {
      const answered = this.whenAnswerable(update);
      hand();
      await answered;
      return OK;
    }
    try {
      // Handling starts once the append is issued; Telegram's answer waits until it is durable.
      await this.writer.store(update, hand);
      return OK;
    } catch (error) {
      this.counters.journalErrors++;
      log(`journal failed to store update ${update.update_id}: ${describeError(error)}`);
      // As under run(): no update past a failed store is confirmed; Telegram re-sends after a restart.
      this.fail(error);
      return answer(500, "Internal Server Error: the update could not be stored");
    } finally {
      if (!released) {
        this.reserved--;
        this.wake();
      }
    }
  }

  /**
   * Waits, in arrival order, until the sink has room for one more update
   * beyond those already promised room; `false` if the webhook stops first.
   */
  private room(): Promise<boolean> {
    const turn = this.admission.then(() => this.waitForRoom());
    this.admission = turn.catch(noop);
    return turn;
  }

  private async waitForRoom(): Promise<boolean> {
    for (;;) {
      if (this.state !== "running") return false;
      const free = await this.wakeable(this.queue.capacity(1));
      if (this.state !== "running") return false;
      if (free - this.reserved >= 1) {
        this.reserved++;
        return true;
      }
      // Room is promised to updates not yet in the sink: wait until one gets there.
      // (`free` is 0 also when a wake-up cut the wait short: then just ask again.)
      if (this.reserved > 0) await this.wakeable(new Promise<number>(noop));
    }
  }

  /** `promise`, or 0 as soon as `wake()` or a stop is called. */
  private wakeable(promise: Promise<number>): Promise<number> {
    return new Promise((resolve) => {
      const wake = () => {
        this.wakers.delete(wake);
        resolve(0);
      };
      this.wakers.add(wake);
      promise.then((value) => {
        this.wakers.delete(wake);
        resolve(value);
      }, noop);
    });
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** Resolves when the handler of `update` is done or timed out, or after `answerAfter`. */
  private whenAnswerable(update: Y): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.answerWaiters.delete(update);
        this.counters.answeredEarly++;
        resolve();
      }, this.options.answerAfter);
      this.answerWaiters.set(update, () => {
        clearTimeout(timer);
        this.answerWaiters.delete(update);
        resolve();
      });
    });
  }

  /** The sink is done with `update`: handled, failed, or given up on. */
  private done(update: Y): void {
    this.answerWaiters.get(update)?.();
    const journal = this.options.journal;
    if (journal === undefined) return;
    try {
      journal.settle(update.update_id);
    } catch (error) {
      // A lost done record only means a duplicate after a crash.
      log(`journal.settle(${update.update_id}) threw: ${describeError(error)}`);
    }
  }

  /** Answers 503 (counted): Telegram sends the update again later. */
  refuse(): WebhookAnswer {
    this.counters.refused++;
    return UNAVAILABLE;
  }

  private async open(): Promise<void> {
    const journal = this.options.journal;
    if (journal !== undefined && this.writer === undefined) {
      try {
        const recovery = await journal.open();
        this.recovered = recovery.pending;
        // Telegram may send again what a previous run stored, handled and settled.
        for (const id of recovery.recent ?? []) this.recent.add(id);
        this.writer = new JournalWriter(journal, recovery.offset ?? 0);
      } catch (error) {
        this.fail(error);
        throw error;
      }
    }
    await this.bot.init?.();
    this.replay();
  }

  /** Hands the updates a previous run left unfinished to the sink, before any new one. */
  private replay(): void {
    const pending = this.recovered;
    if (pending.length === 0) return;
    this.recovered = [];
    for (const update of pending) {
      markReplayed(update);
      this.recent.add(update.update_id);
    }
    this.metrics.replayed += pending.length;
    log(`replaying ${pending.length} updates from the journal`);
    this.queue.add(pending).catch(noop);
  }

  private async shutdown(): Promise<void> {
    await this.admission;
    await Promise.allSettled([...this.busy]);
    await this.queue.empty();
    const journal = this.options.journal;
    if (journal === undefined || this.writer === undefined) return;
    try {
      await this.writer.idle();
      await journal.flush();
    } finally {
      this.writer = undefined;
      await journal.close();
    }
  }
}
