import { HandlerTimeoutError, scopeStorage, type UpdateScope } from "./context.js";
import { describeError, logger } from "./log.js";

const log = logger("queue");

interface Task<Y> extends UpdateScope {
  readonly elem: Y;
  readonly deadline: number;
  /** Settles when the worker and its error handling are done; never rejects. */
  settled?: Promise<void>;
}

/**
 * The set of updates being handled, with a hard concurrency cap and a per-task
 * timeout. Elements beyond the cap wait in arrival order and start as slots
 * free up. A task that exceeds the timeout is handed to the timeout handler and
 * frees its slot, but it keeps running: its later failure still goes to the
 * error handler, never to an unhandled rejection.
 *
 * Same constructor and methods as @grammyjs/runner's `DecayingDeque`; unlike
 * it, `add` never runs more than `concurrency` tasks at once.
 *
 * @example
 * ```ts
 * const queue = new DecayingDeque<number>(
 *   5_000, // each task may run 5 s
 *   async (n) => console.log(n * 2),
 *   10, // at most 10 at once
 *   (error, n) => console.error(`task ${n} failed`, error),
 *   (n) => console.warn(`task ${n} timed out`),
 * );
 * await queue.add([1, 2, 3]);
 * await queue.empty();
 * ```
 */
export class DecayingDeque<Y, R = unknown> {
  /** Maximum number of tasks running at once. */
  readonly concurrency: number;
  private readonly running = new Set<Task<Y>>();
  private readonly waiting: Y[] = [];
  private waitingHead = 0;
  private capacityWaiters: Array<() => void> = [];
  private emptyWaiters: Array<() => void> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param taskTimeout Milliseconds a task may run before it is timed out (`Infinity`: never)
   * @param worker Starts the task for one element
   * @param concurrency Maximum number of running tasks; `false` means 1, `true` means `Infinity`
   * @param catchError Receives the error of a failed task and its element
   * @param catchTimeout Receives a timed-out element and a promise that settles when its task does
   */
  constructor(
    private readonly taskTimeout: number,
    private readonly worker: (t: Y) => Promise<void>,
    concurrency: boolean | number,
    private readonly catchError: (err: R, elem: Y) => void | Promise<void>,
    private readonly catchTimeout: (t: Y, task: Promise<void>) => void,
  ) {
    this.concurrency = concurrency === false ? 1 : concurrency === true ? Infinity : concurrency;
  }

  /**
   * Adds elements in order, starting each as soon as a slot is free. Resolves
   * once all of them have started and at least one slot is free, with the
   * number of free slots.
   */
  add(elems: readonly Y[]): Promise<number> {
    for (const elem of elems) {
      if (this.waitingCount() === 0 && this.running.size < this.concurrency) this.start(elem);
      else this.waiting.push(elem);
    }
    return this.capacity();
  }

  /** Resolves when no task is running or waiting (timed-out tasks are not waited for). */
  empty(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  /** Resolves with the number of free slots as soon as it is positive. */
  capacity(): Promise<number> {
    const free = this.free();
    if (free > 0) return Promise.resolve(free);
    return new Promise((resolve) => this.capacityWaiters.push(() => resolve(this.free())));
  }

  /** Number of tasks running or waiting for a slot. */
  get length(): number {
    return this.running.size + this.waitingCount();
  }

  /** Elements of the running tasks, oldest first, then the waiting ones. */
  pendingTasks(): Y[] {
    const out: Y[] = [];
    for (const task of this.running) out.push(task.elem);
    for (let i = this.waitingHead; i < this.waiting.length; i++) out.push(this.waiting[i]);
    return out;
  }

  private free(): number {
    return this.concurrency - this.running.size - this.waitingCount();
  }

  private waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  private start(elem: Y): void {
    const task: Task<Y> = { elem, deadline: Date.now() + this.taskTimeout };
    this.running.add(task);
    let promise: Promise<void>;
    try {
      promise = scopeStorage.run(task, this.worker, elem);
    } catch (error) {
      promise = Promise.reject(error);
    }
    task.settled = promise.then(
      () => undefined,
      (error: R) => this.reportError(error, elem),
    );
    void task.settled.then(() => this.finish(task));
    if (this.timer === undefined && Number.isFinite(this.taskTimeout)) this.armTimer();
  }

  private async reportError(error: R, elem: Y): Promise<void> {
    try {
      await this.catchError(error, elem);
    } catch (secondary) {
      // The error handler is the last line; all that is left is to say so.
      log(`error handler failed: ${describeError(secondary)}`);
    }
  }

  private finish(task: Task<Y>): void {
    // A timed-out task has already given up its slot.
    if (this.running.delete(task)) this.release();
  }

  private release(): void {
    while (this.waitingCount() > 0 && this.running.size < this.concurrency) {
      const elem = this.waiting[this.waitingHead];
      this.waiting[this.waitingHead++] = undefined as Y;
      if (this.waitingHead === this.waiting.length) {
        this.waiting.length = 0;
        this.waitingHead = 0;
      }
      this.start(elem);
    }
    if (this.free() > 0 && this.capacityWaiters.length > 0) {
      const waiters = this.capacityWaiters;
      this.capacityWaiters = [];
      for (const wake of waiters) wake();
    }
    if (this.length === 0) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** One timer for the oldest task: tasks start in deadline order. */
  private armTimer(): void {
    const oldest = this.running.values().next();
    if (oldest.done) {
      this.timer = undefined;
      return;
    }
    this.timer = setTimeout(() => this.expire(), Math.max(0, oldest.value.deadline - Date.now()));
  }

  private expire(): void {
    const now = Date.now();
    let freed = false;
    for (const task of this.running) {
      if (task.deadline > now) break;
      this.running.delete(task);
      freed = true;
      task.timedOut = new HandlerTimeoutError(this.taskTimeout);
      task.controller?.abort(task.timedOut);
      try {
        this.catchTimeout(task.elem, task.settled as Promise<void>);
      } catch (error) {
        log(`timeout handler failed: ${describeError(error)}`);
      }
    }
    this.armTimer();
    if (freed) this.release();
  }
}
