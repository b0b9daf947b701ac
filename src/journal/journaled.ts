import type { AbortSignal as GrammySignal } from "abort-controller";
import type { Fetcher } from "../fetch/fetcher.js";
import type { SinkMetrics } from "../runner/stats.js";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { show } from "../util/options.js";
import { markReplayed, type UpdateJournal } from "./journal.js";

// The runner's own path: its messages belong with the runner's.
const log = logger("runner");

/**
 * Puts a journal between the fetcher and the sink, for `run(bot, { journal })`.
 * A fetched batch goes to the sink without waiting for the disk (though a
 * fast journal may do its fsync on the event loop first), but the next
 * getUpdates, whose offset tells Telegram the batch arrived, waits until the
 * batch is durable: there is no moment at which an update is known to nobody
 * but this process's memory.
 *
 * @example
 * ```ts
 * const journaling = new Journaling(fetcher, journal, metrics);
 * const source = createSource({ supply: (size, signal) => journaling.supply(size, signal) });
 * // when the runner is done with an update: journaling.markDone(update)
 * // on a clean stop, once drained: await journaling.afterDrain(); then always: await journaling.close();
 * ```
 */
export class Journaling<Y extends { update_id: number }> {
  private opened = false;
  /** Updates read back from the journal, not yet handed out. */
  private replay: Y[] = [];
  /** The append of the last fetched batch; the next getUpdates confirms that batch. */
  private appended: Promise<void> | undefined;
  /**
   * A `check()` that failed. The stop must fail on it too: a fetch that fails
   * after the stop has begun ends the source quietly.
   */
  private checkFailure: { error: unknown } | undefined;

  constructor(
    private readonly fetcher: Fetcher<Y>,
    private readonly journal: UpdateJournal<Y>,
    private readonly metrics: SinkMetrics,
  ) {}

  /** The source's supply: replayed updates first, then fetched ones, each batch journaled. */
  async supply(batchSize: number, signal: GrammySignal): Promise<Y[]> {
    if (!this.opened) await this.open(signal);
    if (this.replay.length > 0) return this.nextReplayed(batchSize);
    if (this.appended !== undefined) {
      await this.appended;
      this.appended = undefined;
    }
    await this.check();
    const updates = await this.fetcher.fetch(batchSize, signal);
    if (updates.length > 0) this.append(updates);
    return updates;
  }

  /**
   * Tells the journal the runner is done with `update`: handled, failed, or
   * given up on after a timeout, so that a crash from here on does not replay it.
   */
  markDone(update: Y): void {
    const id = update.update_id;
    try {
      this.journal.settle(id);
    } catch (error) {
      // A lost done record only means a duplicate after a crash.
      log(`journal.settle(${id}) threw: ${describeError(error)}`);
    }
  }

  /** Everything journaled and flushed, then the final confirmation to Telegram. */
  async afterDrain(): Promise<void> {
    if (this.opened) {
      if (this.checkFailure !== undefined) throw this.checkFailure.error;
      await this.appended;
      this.appended = undefined;
      await this.journal.flush();
    }
    await this.fetcher.confirm();
  }

  /** Closes the journal (releasing its lock) if this run opened it. */
  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.replay = [];
    this.appended = undefined;
    this.checkFailure = undefined;
    await this.journal.close();
  }

  private async open(signal: GrammySignal): Promise<void> {
    // Before bot.init(): a second process on the same journal fails at once.
    const recovery = await this.journal.open();
    this.opened = true;
    await this.fetcher.init(signal);
    if (recovery.offset !== undefined) this.fetcher.startAt(recovery.offset);
    this.replay = recovery.pending;
    for (const update of this.replay) markReplayed(update);
    if (this.replay.length > 0) log(`replaying ${this.replay.length} updates from the journal`);
  }

  private nextReplayed(batchSize: number): Y[] {
    // Same sink, same cap: no more than there are free slots.
    const count = Math.max(1, Math.min(this.replay.length, Math.floor(batchSize) || 1));
    const batch = this.replay.splice(0, count);
    this.metrics.replayed += batch.length;
    return batch;
  }

  private async check(): Promise<void> {
    try {
      const checking = this.journal.check?.();
      if (checking !== undefined) await checking;
    } catch (error) {
      this.checkFailure ??= { error };
      throw error;
    }
  }

  /**
   * Starts storing a fetched batch. A throw, or no promise (an append that
   * forgot to return one), counts as a rejection: the batch still goes to
   * the handlers, and the next fetch or the stop fails on it, so nothing past
   * it is confirmed.
   */
  private append(updates: Y[]): void {
    // Before the call: a fast journal may do its fsync before returning.
    const started = performance.now();
    try {
      const pending: unknown = this.journal.append(updates, this.fetcher.nextOffset());
      this.appended = isThenable(pending)
        ? Promise.resolve(pending as PromiseLike<void>)
        : Promise.reject(
            new TypeError(
              `journal.append() must return a promise that resolves once the batch is stored, but returned ${show(pending)}.`,
            ),
          );
    } catch (error) {
      this.appended = Promise.reject(error);
    }
    const { observers } = this.metrics;
    observers.time(this.appended, (s, ok) => ok && observers.journalWrite(s), started);
    // Awaited by the next fetch or by the stop; never an unhandled rejection.
    this.appended.catch(noop);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
