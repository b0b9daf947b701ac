/**
 * `waitFor()`: promises that resolve once a predicate over the fake server holds.
 */
import { checkDuration, checkFunction } from "../util/options.js";
import { timerDelay } from "../util/timers.js";

/**
 * How often waiters are also checked on their own: a condition on the bot's
 * side (a handler counter) can change while the server's state does not, e.g.
 * while the runner's next poll is held.
 */
const RECHECK_MS = 10;

interface Waiter<T> {
  predicate: (subject: T) => boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/** The pending `waitFor()` calls on `subject`, checked on every {@link notify}. */
export class Waiters<T> {
  private readonly waiting = new Set<Waiter<T>>();
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;

  /** @param describe the subject's state, for the message of a timeout */
  constructor(
    private readonly subject: T,
    private readonly describe: () => string,
  ) {}

  waitFor(predicate: (subject: T) => boolean, timeoutMs: number): Promise<void> {
    checkFunction("predicate", predicate);
    checkDuration("timeoutMs", timeoutMs);
    return new Promise<void>((resolve, reject) => {
      if (this.closed) {
        reject(new Error("FakeBotApi.waitFor(): the server is closed."));
        return;
      }
      try {
        if (predicate(this.subject)) {
          resolve();
          return;
        }
      } catch (error) {
        reject(error);
        return;
      }
      const waiter: Waiter<T> = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiting.delete(waiter);
          reject(
            new Error(
              `FakeBotApi.waitFor(): condition not met within ${timeoutMs} ms: ${describePredicate(predicate)} (${this.describe()})`,
            ),
          );
        }, timerDelay(timeoutMs)),
      };
      this.waiting.add(waiter);
      if (this.recheck === undefined) {
        this.recheck = setInterval(() => this.notify(), RECHECK_MS);
        this.recheck.unref();
      }
    });
  }

  /** Settles the waiters whose predicate now holds or throws. */
  notify(): void {
    if (this.waiting.size === 0) {
      clearInterval(this.recheck);
      this.recheck = undefined;
      return;
    }
    for (const waiter of this.waiting) {
      let met: boolean;
      try {
        met = waiter.predicate(this.subject);
      } catch (error) {
        this.settle(waiter);
        waiter.reject(error);
        continue;
      }
      if (met) {
        this.settle(waiter);
        waiter.resolve();
      }
    }
  }

  /** Rejects every waiter, and every later `waitFor()`. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(
        new Error("FakeBotApi.waitFor(): the server was closed before the condition was met."),
      );
    }
    this.waiting.clear();
    clearInterval(this.recheck);
    this.recheck = undefined;
  }

  private settle(waiter: Waiter<T>): void {
    this.waiting.delete(waiter);
    clearTimeout(waiter.timer);
  }
}

/** The predicate's source on one line, cut short, so a timeout says which wait it was. */
function describePredicate(predicate: (subject: never) => boolean): string {
  const source = String(predicate).replace(/\s+/g, " ");
  return source.length > 200 ? `${source.slice(0, 200)}…` : source;
}
