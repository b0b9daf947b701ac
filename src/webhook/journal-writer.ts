/**
 * Appending webhook updates to a journal: the updates of requests parsed in
 * the same turn go into one append, and an append is issued at once, not
 * after the previous one is durable. The file journal writes the appends that
 * arrive during an fsync together in its next round (a group commit), so one
 * fsync still serves many requests, while handlers start without waiting
 * for any fsync.
 */
import type { UpdateJournal } from "../journal/journal.js";
import { noop } from "../util/noop.js";

interface Batch<Y> {
  updates: Y[];
  /** Called once the batch's append has been issued (not yet durable). */
  issued: Array<() => void>;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function newBatch<Y>(): Batch<Y> {
  let resolve = noop;
  let reject: (error: unknown) => void = noop;
  const done = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // Awaited by each request of the batch; never an unhandled rejection.
  done.catch(noop);
  return { updates: [], issued: [], done, resolve, reject };
}

/**
 * Stores updates in a journal, batching concurrent ones.
 *
 * @example
 * ```ts
 * const writer = new JournalWriter(journal, recovery.offset ?? 0);
 * await writer.store(update, () => queue.add([update])); // durable now: answer Telegram
 * ```
 */
export class JournalWriter<Y extends { update_id: number }> {
  private batch: Batch<Y> | undefined;
  /** Appends issued in order; a journal's `check()` that returns a promise holds the next one. */
  private issuing: Promise<void> = Promise.resolve();
  private readonly unsettled = new Set<Promise<void>>();

  /** @param nextOffset one more than the highest update_id stored so far */
  constructor(
    private readonly journal: UpdateJournal<Y>,
    private nextOffset: number,
  ) {}

  /**
   * Resolves once `update` is durable; rejects if the journal failed to
   * store it. `issued` runs as soon as its append has been called: from then
   * on the update may be handled (and settled), as the journal has it in order.
   */
  store(update: Y, issued: () => void): Promise<void> {
    let batch = this.batch;
    if (batch === undefined) {
      batch = newBatch<Y>();
      this.batch = batch;
      const current = batch;
      // One microtask: requests parsed in the same turn share one append.
      this.issuing = this.issuing.then(() => this.issue(current));
    }
    batch.updates.push(update);
    batch.issued.push(issued);
    if (update.update_id + 1 > this.nextOffset) this.nextOffset = update.update_id + 1;
    return batch.done;
  }

  /** Resolves when every append issued so far has settled. */
  async idle(): Promise<void> {
    await this.issuing;
    await Promise.allSettled([...this.unsettled]);
  }

  /**
   * Appends a batch without waiting for the earlier ones to be durable:
   * the journal groups appends that arrive during an fsync into its next
   * one, so a handler starts without waiting for an fsync under way, and
   * only Telegram's answer waits for its own.
   */
  private async issue(batch: Batch<Y>): Promise<void> {
    if (this.batch === batch) this.batch = undefined;
    try {
      const checking = this.journal.check?.();
      if (checking !== undefined) await checking;
      const appended: unknown = this.journal.append(batch.updates, this.nextOffset);
      for (const issued of batch.issued) issued();
      if (typeof (appended as { then?: unknown } | undefined)?.then !== "function")
        throw new TypeError(
          "journal.append() must return a promise that resolves once the batch is stored.",
        );
      const durable = (appended as Promise<void>).then(batch.resolve, batch.reject);
      this.unsettled.add(durable);
      void durable.finally(() => this.unsettled.delete(durable));
    } catch (error) {
      batch.reject(error);
    }
  }
}
