/**
 * Appending webhook updates to a journal: the updates of requests that arrive
 * while an append is under way go together in the next one (a group commit),
 * so one fsync serves many requests.
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
 * await writer.store(update); // durable now: answer Telegram
 * ```
 */
export class JournalWriter<Y extends { update_id: number }> {
  private batch = newBatch<Y>();
  private writing: Promise<void> | undefined;

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
    const { batch } = this;
    batch.updates.push(update);
    batch.issued.push(issued);
    if (update.update_id + 1 > this.nextOffset) this.nextOffset = update.update_id + 1;
    this.writing ??= this.writeAll();
    return batch.done;
  }

  /** Resolves when no append is under way. */
  idle(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  private async writeAll(): Promise<void> {
    // One microtask: requests parsed in the same turn share the first append.
    await Promise.resolve();
    while (this.batch.updates.length > 0) {
      const batch = this.batch;
      this.batch = newBatch();
      try {
        const checking = this.journal.check?.();
        if (checking !== undefined) await checking;
        const appended: unknown = this.journal.append(batch.updates, this.nextOffset);
        for (const issued of batch.issued) issued();
        if (typeof (appended as { then?: unknown } | undefined)?.then !== "function")
          throw new TypeError(
            "journal.append() must return a promise that resolves once the batch is stored.",
          );
        await appended;
        batch.resolve();
      } catch (error) {
        batch.reject(error);
      }
    }
    this.writing = undefined;
  }
}
