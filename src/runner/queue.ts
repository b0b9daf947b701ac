import { describeError, logger } from "../util/log.js";
import { timerDelay } from "../util/timers.js";
import { enterScope, HandlerTimeoutError, leaveScope, type UpdateScope } from "./update-scope.js";

const log = logger("queue");

type TaskState = "running" | "parked" | "resuming" | "timed out" | "done";

/**
 * One update in the queue, and the scope its handler can reach through the
 * update object. A class, so parking costs no closures per update.
 */
class Task<Y, R> implements UpdateScope {
  state: TaskState = "running";
  /** Neighbours in the list the task is in (running or parked). */
  prev: Task<Y, R> | undefined = undefined;
  next: Task<Y, R> | undefined = undefined;
  // Rarely set (timeouts, updateSignal): declared only, so a task costs no slots for them.
  declare controller?: AbortController;
  declare timedOut?: HandlerTimeoutError;
  declare onTimeout?: () => void;
  /** Settles when the worker and its error handling are done; never rejects. Set by `start`. */
  declare settled: Promise<void>;
  /** `performance.now()` at the start, for the latency the runner reports. */
  readonly startedAt = performance.now();

  constructor(
    readonly elem: Y,
    public deadline: number,
    private readonly owner: DecayingDeque<Y, R>,
  ) {}

  park(): boolean {
    return this.owner.park(this);
  }

  resume(): Promise<void> {
    return this.owner.resume(this);
  }
}

/**
 * The running or the parked tasks, in insertion order. An intrusive list
 * rather than a Set: a Set that holds short-lived tasks makes every garbage
 * collection trace it, which cost about 2 µs per update in the benchmarks.
 */
class TaskList<Y, R> {
  head: Task<Y, R> | undefined = undefined;
  private tail: Task<Y, R> | undefined = undefined;
  size = 0;

  add(task: Task<Y, R>): void {
    task.prev = this.tail;
    task.next = undefined;
    if (this.tail === undefined) this.head = task;
    else this.tail.next = task;
    this.tail = task;
    this.size++;
  }

  /** Removes a task that is in this list. */
  delete(task: Task<Y, R>): void {
    if (task.prev === undefined) this.head = task.next;
    else task.prev.next = task.next;
    if (task.next === undefined) this.tail = task.prev;
    else task.next.prev = task.prev;
    task.prev = task.next = undefined;
    this.size--;
  }

  collect(into: Y[]): void {
    for (let task = this.head; task !== undefined; task = task.next) into.push(task.elem);
  }
}

/**
 * Extra options of {@link DecayingDeque}, beyond @grammyjs/runner's.
 *
 * @example
 * ```ts
 * const options: DequeOptions<Update> = {
 *   maxParked: 1_000,
 *   onSettled: (update, ms) => console.log(`${update.update_id} took ${ms} ms`),
 * };
 * ```
 */
export interface DequeOptions<Y> {
  /**
   * Most tasks parked by `sequentialize` at once. While set, the room that
   * `add()` and `capacity()` report is also bounded by the room left for
   * parking, since any new element may have to wait for its key. Numbers
   * below 1 mean 1. Default: no cap, so the room is the free slots, as with
   * @grammyjs/runner's queue; the sinks pass `sink.maxParked` (default 5,000).
   */
  maxParked?: number;
  /**
   * Called when a task is completely done (after its error handler, if it
   * failed; also for a task that timed out, when it finally ends), with how
   * long it took in milliseconds.
   */
  onSettled?: (elem: Y, milliseconds: number) => void;
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
  /** Most tasks parked at once before `capacity()` reports no room (`Infinity`: no cap). */
  readonly maxParked: number;
  /** Tasks holding a slot, in start order, which is also deadline order. */
  private readonly running = new TaskList<Y, R>();
  private readonly waiting: Y[] = [];
  private waitingHead = 0;
  /** Parked tasks whose turn has come, waiting for a slot; they go before new elements. */
  private resuming: Array<{ task: Task<Y, R>; wake: () => void }> = [];
  private readonly parked = new TaskList<Y, R>();
  private capacityWaiters: Array<{ atLeast: number; wake: () => void }> = [];
  private emptyWaiters: Array<() => void> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onSettled: DequeOptions<Y>["onSettled"];
  /** Whether tasks have a deadline at all; without one, no clock is read per task. */
  private readonly timed: boolean;

  /**
   * @param taskTimeout Milliseconds a task may run before it is timed out (`Infinity`: never)
   * @param worker Starts the task for one element
   * @param concurrency Maximum number of running tasks; `false` means 1, `true` means `Infinity`,
   *   numbers below 1 mean 1
   * @param catchError Receives the error of a failed task and its element
   * @param catchTimeout Receives a timed-out element and a promise that settles when its task does
   * @param options Parking cap and a settle hook, see {@link DequeOptions}
   */
  constructor(
    private readonly taskTimeout: number,
    private readonly worker: (t: Y) => Promise<void>,
    concurrency: boolean | number,
    private readonly catchError: (err: R, elem: Y) => void | Promise<void>,
    private readonly catchTimeout: (t: Y, task: Promise<void>) => void,
    options: DequeOptions<Y> = {},
  ) {
    this.concurrency =
      concurrency === false ? 1 : concurrency === true ? Infinity : atLeastOne(concurrency);
    this.timed = Number.isFinite(taskTimeout);
    this.maxParked = atLeastOne(options.maxParked ?? Infinity);
    this.onSettled = options.onSettled;
  }

  /**
   * Adds elements in order, starting each as soon as a slot is free. Resolves
   * once there is room for at least `atLeast` more (default 1), with the
   * number of free slots.
   */
  add(elems: readonly Y[], atLeast = 1): Promise<number> {
    for (const elem of elems) {
      if (this.waitingCount() === 0 && this.hasSlot()) this.start(elem);
      else this.waiting.push(elem);
    }
    return this.capacity(atLeast);
  }

  /** Resolves when no task is running, parked or waiting (timed-out tasks are not waited for). */
  empty(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  /**
   * Resolves with the number of free slots as soon as there are at least
   * `atLeast` (default 1; never more than the queue can ever have free).
   */
  capacity(atLeast = 1): Promise<number> {
    const wanted = Math.max(1, Math.min(atLeast, this.concurrency, this.maxParked));
    const free = this.free();
    if (free >= wanted) return Promise.resolve(free);
    return new Promise((resolve) =>
      this.capacityWaiters.push({ atLeast: wanted, wake: () => resolve(this.free()) }),
    );
  }

  /** Number of tasks running, parked or waiting for a slot. */
  get length(): number {
    return this.running.size + this.parked.size + this.resuming.length + this.waitingCount();
  }

  /** Number of tasks that gave their slot back while waiting for their turn. */
  get parkedCount(): number {
    return this.parked.size + this.resuming.length;
  }

  /** Concurrency slots no running task holds (`Infinity` without a cap). */
  get freeSlots(): number {
    return Math.max(0, this.concurrency - this.running.size - this.resuming.length);
  }

  /** Elements of the running and parked tasks, then the waiting ones. */
  pendingTasks(): Y[] {
    const out: Y[] = [];
    this.running.collect(out);
    this.parked.collect(out);
    for (const { task } of this.resuming) out.push(task.elem);
    for (let i = this.waitingHead; i < this.waiting.length; i++) out.push(this.waiting[i]);
    return out;
  }

  /**
   * Gives a running task's slot to the next one while it waits for its turn.
   * @internal Used by `sequentialize` through the update's scope.
   */
  park(task: Task<Y, R>): boolean {
    if (task.state !== "running") return false;
    this.running.delete(task);
    task.state = "parked";
    this.parked.add(task);
    this.release();
    return true;
  }

  /**
   * Gets a slot back for a parked task, ahead of elements not yet started.
   * @internal Used by `sequentialize` through the update's scope.
   */
  resume(task: Task<Y, R>): Promise<void> {
    if (task.state !== "parked") return Promise.resolve();
    this.parked.delete(task);
    let resumed: Promise<void>;
    if (this.hasSlot()) {
      this.occupy(task);
      resumed = Promise.resolve();
    } else {
      task.state = "resuming";
      resumed = new Promise((wake) => this.resuming.push({ task, wake }));
    }
    // One parked task fewer may lift the parking cap, so fetching can go on.
    this.release();
    return resumed;
  }

  /**
   * Room for new elements: free slots, but no more than could still be parked
   * (if parking is capped), since any new element may have to wait for its key.
   */
  private free(): number {
    const slots = this.concurrency - this.running.size - this.resuming.length - this.waitingCount();
    return Math.min(slots, this.maxParked - this.parked.size);
  }

  private hasSlot(): boolean {
    return this.resuming.length === 0 && this.running.size < this.concurrency;
  }

  private waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** Takes a slot; the timeout counts from here, so time spent parked is not held against it. */
  private occupy(task: Task<Y, R>): void {
    task.state = "running";
    if (this.timed) task.deadline = Date.now() + this.taskTimeout;
    this.running.add(task);
    if (this.timed && this.timer === undefined) this.armTimer();
  }

  private start(elem: Y): void {
    const task = new Task<Y, R>(elem, 0, this);
    this.occupy(task);
    let promise: Promise<void>;
    try {
      enterScope(elem, task);
      // A plain-JS consumer may return nothing; a native promise passes through.
      promise = Promise.resolve(this.worker(elem));
    } catch (error) {
      promise = Promise.reject(error);
    }
    // One promise on the success path: this runs for every update.
    task.settled = promise.then(
      () => this.finish(task),
      (error: R) => this.reportError(error, elem).then(() => this.finish(task)),
    );
  }

  private async reportError(error: R, elem: Y): Promise<void> {
    try {
      await this.catchError(error, elem);
    } catch (secondary) {
      // The error handler is the last line; all that is left is to say so.
      log(`error handler failed: ${describeError(secondary)}`);
    }
  }

  private finish(task: Task<Y, R>): void {
    leaveScope(task.elem, task);
    if (this.onSettled !== undefined) {
      try {
        this.onSettled(task.elem, performance.now() - task.startedAt);
      } catch (error) {
        log(`settle hook failed: ${describeError(error)}`);
      }
    }
    if (task.state === "running") this.running.delete(task);
    else if (task.state === "parked") this.parked.delete(task);
    else return; // a timed-out task has already given up its slot
    task.state = "done";
    this.release();
  }

  private release(): void {
    while (this.resuming.length > 0 && this.running.size < this.concurrency) {
      const next = this.resuming.shift() as { task: Task<Y, R>; wake: () => void };
      this.occupy(next.task);
      next.wake();
    }
    while (this.waitingCount() > 0 && this.running.size < this.concurrency) {
      const elem = this.waiting[this.waitingHead];
      this.waiting[this.waitingHead++] = undefined as Y;
      if (this.waitingHead === this.waiting.length) {
        this.waiting.length = 0;
        this.waitingHead = 0;
      }
      this.start(elem);
    }
    if (this.capacityWaiters.length > 0) {
      const free = this.free();
      if (free > 0) {
        const still = this.capacityWaiters.filter((waiter) => waiter.atLeast > free);
        if (still.length < this.capacityWaiters.length) {
          const ready = this.capacityWaiters.filter((waiter) => waiter.atLeast <= free);
          this.capacityWaiters = still;
          for (const waiter of ready) waiter.wake();
        }
      }
    }
    if (this.length === 0) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** One timer for the oldest running task. */
  private armTimer(): void {
    const oldest = this.running.head;
    if (oldest === undefined) {
      this.timer = undefined;
      return;
    }
    // A deadline past the timer cap fires early; expire() then finds nothing due and re-arms.
    this.timer = setTimeout(() => this.expire(), timerDelay(oldest.deadline - Date.now()));
  }

  private expire(): void {
    const now = Date.now();
    let freed = false;
    for (let task = this.running.head; task !== undefined; task = this.running.head) {
      if (task.deadline > now) break;
      this.running.delete(task);
      task.state = "timed out";
      freed = true;
      task.timedOut = new HandlerTimeoutError(this.taskTimeout);
      task.controller?.abort(task.timedOut);
      try {
        task.onTimeout?.();
        this.catchTimeout(task.elem, task.settled);
      } catch (error) {
        log(`timeout handler failed: ${describeError(error)}`);
      }
    }
    this.armTimer();
    if (freed) this.release();
  }
}

/**
 * Numbers below 1 (and NaN) mean 1, as @grammyjs/runner documents for
 * `concurrency`: with less than one slot, tasks would never start, or
 * `add()` never resolve.
 */
function atLeastOne(n: number): number {
  // biome-ignore lint/complexity/useMathMinMax: Math.max(NaN, 1) is NaN, which would hang the queue
  return n >= 1 ? n : 1;
}
