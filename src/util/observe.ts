import { describeError, logger } from "./log.js";
import { show } from "./options.js";

const log = logger("runner");

/**
 * Receives a runner's measurements as they happen, one call per observation,
 * for exporters that need every one (histograms). Attach it with
 * `handle.observe(observer)`; each method is optional. Durations are in
 * seconds. The methods run on the runner's path: keep them cheap and
 * synchronous. A method that throws is logged and otherwise ignored.
 *
 * @example
 * ```ts
 * const stop = handle.observe({
 *   handled: (seconds) => histogram.observe(seconds),
 *   getUpdates: (seconds, ok) => calls.observe({ outcome: ok ? "ok" : "error" }, seconds),
 * });
 * // later: stop();
 * ```
 */
export interface RunnerObserver {
  /** An update's handler settled (succeeded, failed, or finished after timing out). */
  handled?: (seconds: number) => void;
  /** A getUpdates call answered (`ok`) or failed; calls aborted by `stop()` are not reported. */
  getUpdates?: (seconds: number, ok: boolean) => void;
  /** The journal stored a fetched batch (from `append()` to its promise resolving). */
  journalWrite?: (seconds: number) => void;
}

const METHODS = ["handled", "getUpdates", "journalWrite"] as const;

/**
 * The observers of one runner. Empty by default, so the runner's hot path
 * pays one length check.
 *
 * @example
 * ```ts
 * const observers = new Observers();
 * const detach = observers.add({ handled: (s) => console.log(s) });
 * if (observers.list.length !== 0) observers.handled(0.002);
 * detach();
 * ```
 */
export class Observers {
  /** Replaced, never changed in place, so removing an observer while emitting skips nobody. */
  list: readonly RunnerObserver[] = [];

  /** Adds `observer`; returns a function that removes it again (idempotent). */
  add(observer: RunnerObserver): () => void {
    if (typeof observer !== "object" || observer === null)
      throw new TypeError(
        `observe: expected an object with observer methods, but got ${show(observer)}.`,
      );
    for (const name of METHODS) {
      const method = observer[name];
      if (method !== undefined && typeof method !== "function")
        throw new TypeError(
          `observe: observer.${name} must be a function, but got ${show(method)}.`,
        );
    }
    this.list = [...this.list, observer];
    let attached = true;
    return () => {
      const at = attached ? this.list.indexOf(observer) : -1;
      attached = false;
      if (at !== -1) this.list = [...this.list.slice(0, at), ...this.list.slice(at + 1)];
    };
  }

  handled(seconds: number): void {
    for (const o of this.list) if (o.handled !== undefined) guard(() => o.handled?.(seconds));
  }

  getUpdates(seconds: number, ok: boolean): void {
    for (const o of this.list)
      if (o.getUpdates !== undefined) guard(() => o.getUpdates?.(seconds, ok));
  }

  journalWrite(seconds: number): void {
    for (const o of this.list)
      if (o.journalWrite !== undefined) guard(() => o.journalWrite?.(seconds));
  }

  /**
   * Reports how long `pending` took (since `started`, by default now) to
   * `report` once it settles, if anyone is observing; returns `pending`.
   */
  time<T>(
    pending: Promise<T>,
    report: (seconds: number, ok: boolean) => void,
    started = performance.now(),
  ): Promise<T> {
    if (this.list.length === 0) return pending;
    const elapsed = () => (performance.now() - started) / 1000;
    pending.then(
      () => report(elapsed(), true),
      () => report(elapsed(), false),
    );
    return pending;
  }
}

function guard(call: () => void): void {
  try {
    call();
  } catch (error) {
    log(`an observer threw: ${describeError(error)}`);
  }
}
