import { statSync } from "node:fs";
import * as os from "node:os";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Update, UserFromGetMe } from "grammy/types";
import { isReplayed } from "../journal/journal.js";
import { hash } from "../util/hash.js";
import { KeyedChain } from "../util/keyed-chain.js";
import { describeError, logger, redact } from "../util/log.js";
import {
  checkFunction,
  checkNumber,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";
import { timerDelay } from "../util/timers.js";
import {
  BOT_WORKER_KEY,
  isReadyMessage,
  isResultMessage,
  PROTOCOL,
  type ResultMessage,
  type SerializedError,
  type UpdateMessage,
  type WorkerSeed,
} from "./protocol.js";

const log = logger("distribute");

/** Restart delays after consecutive quick crashes: 0, 100, 200, 400, … ms, capped. */
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** A worker that lived this long before dying is considered healthy again. */
const STABLE_MS = 5_000;
const DEFAULT_START_TIMEOUT_MS = 60_000;

/**
 * Options of {@link distribute}.
 *
 * @example
 * ```ts
 * const options: DistributeOptions<Context> = {
 *   count: 4,
 *   key: (ctx) => ctx.chat?.id,
 * };
 * bot.use(distribute(new URL("./bot-worker.js", import.meta.url), options));
 * ```
 */
export interface DistributeOptions<C> {
  /**
   * Number of worker threads. Defaults to the number of CPU cores minus one
   * (one core is left to the central bot), but at least 1.
   */
  count?: number;
  /**
   * Picks the worker of an update: updates with the same key always go to the
   * same worker, and each one is sent only after the previous update with that
   * key has been handled, so their order is kept. `undefined` means "no
   * constraint": the update is placed by its `update_id` and not ordered.
   * Defaults to the chat id, else the id of the user the update is from.
   */
  key?: (ctx: C) => string | number | undefined;
  /**
   * How long, in milliseconds, an update waits for its worker to finish
   * starting (importing the worker file, top-level awaits included) or to be
   * restarted after a crash, before it fails with an error saying so: a
   * worker file stuck on a dependency must not hold updates, their chats and
   * the runner's concurrency slots for good. From then on, updates for that
   * worker fail at once until it is ready (or restarted); the worker goes on
   * starting. An integer >= 1, or `Infinity` to wait as long as it takes.
   * Default: 60,000.
   */
  startTimeoutMilliseconds?: number;
}

/**
 * State of one worker slot, as returned by {@link DistributeMiddleware.stats}.
 *
 * @example
 * ```ts
 * const busy: WorkerStats[] = middleware.stats().workers.filter((w) => w.inFlight > 0);
 * ```
 */
export interface WorkerStats {
  /** Position of the slot, as used in error messages (`Worker 2 …`). */
  index: number;
  /**
   * Updates sent to this slot's worker, or waiting for it to start, that
   * have not settled yet; not those still waiting behind an earlier update
   * of their key.
   */
  inFlight: number;
  /** How many times a new worker thread was started after the first one died. */
  restarts: number;
  /** Whether a worker thread is running and has finished starting up. */
  alive: boolean;
  /** Why the last worker thread of this slot died, if one did. */
  lastError?: string;
}

/**
 * Snapshot of a worker pool, as returned by {@link DistributeMiddleware.stats}.
 *
 * @example
 * ```ts
 * const stats: DistributeStats = middleware.stats();
 * console.log(stats.workers.map((w) => `${w.index}: ${w.inFlight}`).join(", "));
 * ```
 */
export interface DistributeStats {
  workers: WorkerStats[];
}

/**
 * The middleware returned by {@link distribute}: call it with a context to have
 * a worker handle the update; it resolves once the worker has handled it and
 * rejects if the worker's middleware failed or the worker died meanwhile.
 *
 * @example
 * ```ts
 * const middleware: DistributeMiddleware<Context> = distribute("./bot-worker.js");
 * bot.use(middleware);
 * // …later, after the runner has stopped:
 * await middleware.close();
 * ```
 */
export interface DistributeMiddleware<C> {
  (ctx: C): Promise<void>;
  /**
   * The state of every worker slot. Before the first update there are no
   * threads yet, so every slot shows as not alive.
   */
  stats(): DistributeStats;
  /**
   * Terminates all worker threads. Updates not handled yet reject, and so do
   * later calls of the middleware. Idle workers never keep the process alive,
   * so this is only needed to free the threads early.
   */
  close(): Promise<void>;
}

/**
 * Creates middleware that hands updates to worker threads, so that the bot's
 * work is spread over several CPU cores. The worker file (a path or `file:`
 * URL of a JavaScript module) creates a {@link BotWorker} and installs the
 * bot's handlers on it; the central bot only fetches updates and passes them
 * on.
 *
 * The threads are started on the first update (its `ctx.me` becomes the
 * workers' `botInfo`), one pool per call of `distribute()`. Updates with the
 * same key (default: the chat) go to the same worker one after another, so a
 * chat's updates are handled in order. A middleware error in a worker that
 * the worker does not handle with its own `bot.catch` makes this middleware
 * reject, so it reaches the central `bot.catch`. A worker thread that dies is
 * restarted (with a growing delay if it keeps dying right away), and the
 * updates it was handling reject with an error naming the worker and update.
 *
 * @param specifier Path or `file:` URL of the worker file
 * @param options Number of workers and how updates are assigned to them
 * @returns The middleware, with `stats()` and `close()`
 *
 * @example
 * ```ts
 * // bot.ts
 * import { Bot } from "grammy";
 * import { distribute, run } from "grammy-runner";
 *
 * const bot = new Bot(process.env.BOT_TOKEN ?? "");
 * bot.use(distribute(new URL("./bot-worker.js", import.meta.url), { count: 4 }));
 * run(bot);
 *
 * // bot-worker.js
 * import { BotWorker } from "grammy-runner";
 * const worker = new BotWorker(process.env.BOT_TOKEN ?? "");
 * worker.on("message", (ctx) => ctx.reply("Hi from a worker thread!"));
 * ```
 */
export function distribute<C extends { update: { update_id: number }; me: UserFromGetMe }>(
  specifier: string | URL,
  options?: DistributeOptions<C>,
): DistributeMiddleware<C> {
  const file = workerFile(specifier);
  const opts = optionalObject("options", options);
  rejectUnknownKeys("", opts, ["count", "key", "startTimeoutMilliseconds"]);
  const count = opts.count === undefined ? defaultCount() : checkCount(opts.count);
  const key = opts.key === undefined ? defaultKey : checkFunction("key", opts.key);
  const startTimeout = checkNumber(
    "startTimeoutMilliseconds",
    opts.startTimeoutMilliseconds ?? DEFAULT_START_TIMEOUT_MS,
    { min: 1, integer: true },
  );

  let pool: Pool | undefined;
  let closed: Promise<void> | undefined;
  /** Each update of a key is sent once the previous one of that key is handled. */
  const order = new KeyedChain();

  function send(update: Update, index: number, me: UserFromGetMe): Promise<void> {
    if (closed !== undefined) return Promise.reject(closedError(update.update_id));
    pool ??= new Pool({ protocol: PROTOCOL, me, file }, count, startTimeout);
    return pool.run(index, update);
  }

  async function middleware(ctx: C): Promise<void> {
    const k = key(ctx);
    if (k !== undefined && typeof k !== "string" && typeof k !== "number") {
      throw new TypeError(
        `Option \`key\` must return a string, a number or undefined, but returned ${show(k)}.`,
      );
    }
    const update = ctx.update as Update;
    if (k === undefined) return send(update, hash(String(update.update_id)) % count, ctx.me);
    const route = String(k);
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = order.join(route, done);
    try {
      if (before !== undefined) await before;
      await send(update, hash(route) % count, ctx.me);
    } finally {
      release();
      order.leave(route);
    }
  }

  return Object.assign(middleware, {
    stats: (): DistributeStats =>
      pool?.stats() ?? {
        workers: Array.from({ length: count }, (_, index) => ({
          index,
          inFlight: 0,
          restarts: 0,
          alive: false,
        })),
      },
    close: (): Promise<void> => {
      closed ??= pool?.close() ?? Promise.resolve();
      return closed;
    },
  });
}

interface Job {
  update: Update;
  resolve: () => void;
  reject: (error: Error) => void;
  /** When it began to wait for a worker to start (`performance.now()`), if it did. */
  queuedAt: number;
}

/** One position in the pool; its worker thread is replaced whenever it dies. */
class Slot {
  worker: Worker | undefined;
  /** The worker has sent `ready`, so updates may be posted to it. */
  ready = false;
  spawnedAt = 0;
  restarts = 0;
  /** Consecutive deaths of short-lived workers, driving the restart delay. */
  failures = 0;
  retry: NodeJS.Timeout | undefined;
  /** Updates waiting for a worker that is starting, or backing off. */
  queued: Job[] = [];
  /** Fails the queued updates once the oldest has waited too long. */
  waitTimer: NodeJS.Timeout | undefined;
  /**
   * An update waited the whole start timeout for this slot's worker, which
   * is still not ready: later updates fail at once rather than each wait
   * that long again (a chat's updates would one after another). Cleared when
   * a worker becomes ready or a new one is started.
   */
  overdue = false;
  /** Updates posted to the worker, by `update_id` (a list, as ids may repeat). */
  posted = new Map<number, Job[]>();
  postedCount = 0;
  lastError: string | undefined;

  constructor(readonly index: number) {}

  get inFlight(): number {
    return this.queued.length + this.postedCount;
  }
}

class Pool {
  private readonly slots: Slot[];
  private closed = false;

  constructor(
    readonly seed: WorkerSeed,
    count: number,
    private readonly startTimeout: number,
  ) {
    this.slots = Array.from({ length: count }, (_, index) => new Slot(index));
    for (const slot of this.slots) this.spawn(slot);
  }

  run(index: number, update: Update): Promise<void> {
    const slot = this.slots[index];
    return new Promise<void>((resolve, reject) => {
      const job: Job = { update, resolve, reject, queuedAt: 0 };
      if (slot.worker !== undefined && slot.ready) {
        this.post(slot, slot.worker, job);
      } else if (slot.overdue) {
        reject(this.notReadyError(slot, update.update_id));
      } else {
        job.queuedAt = performance.now();
        slot.queued.push(job);
        this.armWait(slot);
        this.updateRefs(slot);
      }
    });
  }

  stats(): DistributeStats {
    return {
      workers: this.slots.map((slot) => ({
        index: slot.index,
        inFlight: slot.inFlight,
        restarts: slot.restarts,
        alive: slot.worker !== undefined && slot.ready,
        ...(slot.lastError === undefined ? {} : { lastError: slot.lastError }),
      })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers: Worker[] = [];
    for (const slot of this.slots) {
      clearTimeout(slot.retry);
      slot.retry = undefined;
      // Detach first, so that the exit caused by terminate() is not taken for a crash.
      if (slot.worker !== undefined) workers.push(slot.worker);
      slot.worker = undefined;
      slot.ready = false;
      this.rejectAll(slot, (id) => closedError(id, slot.index));
    }
    log(`closing ${workers.length} worker(s)`);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private spawn(slot: Slot): void {
    slot.retry = undefined;
    slot.overdue = false;
    let worker: Worker;
    try {
      worker = new Worker(BOOTSTRAP, { eval: true, workerData: this.seed });
    } catch (error) {
      this.died(slot, 0, `could not be started: ${describeError(error)}`, true);
      return;
    }
    slot.worker = worker;
    slot.ready = false;
    slot.spawnedAt = Date.now();
    this.updateRefs(slot);
    /** Set by an 'error' event, which comes before the exit and says more than the code. */
    let uncaught: string | undefined;
    let started = false;
    worker.on("message", (message: unknown) => {
      if (slot.worker !== worker) return;
      if (isReadyMessage(message)) {
        if (uncaught !== undefined) return;
        started = true;
        slot.ready = true;
        slot.overdue = false;
        for (const job of this.takeQueued(slot)) this.post(slot, worker, job);
        this.updateRefs(slot);
      } else if (isResultMessage(message)) {
        this.settle(slot, message);
      }
    });
    // Without an 'error' listener, an uncaught error in the worker would be
    // rethrown in this thread and take the whole bot down.
    worker.on("error", (error) => {
      if (slot.worker !== worker) return;
      uncaught = describeError(error);
      // The thread is going down, but its 'exit' is still to come: hold new
      // updates back for the replacement instead of posting them into the void.
      slot.ready = false;
      this.rejectPosted(
        slot,
        (id) =>
          new Error(
            `Worker ${slot.index} crashed with an uncaught error while handling update ${id}: ${uncaught}`,
          ),
      );
    });
    worker.on("messageerror", (error) => {
      log(`worker ${slot.index} sent a message that could not be read: ${describeError(error)}`);
    });
    worker.on("exit", (code) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      slot.ready = false;
      this.rejectPosted(
        slot,
        (id) =>
          new Error(`Worker ${slot.index} exited with code ${code} while handling update ${id}`),
      );
      const when = started ? "" : " while starting";
      const reason =
        uncaught !== undefined
          ? `crashed with an uncaught error${when}: ${uncaught}`
          : `exited with code ${code}${started ? "" : " before it was ready (does the worker file create a BotWorker?)"}`;
      this.died(slot, Date.now() - slot.spawnedAt, reason, !started);
    });
  }

  /**
   * Schedules the slot's next worker, backing off while workers keep dying
   * young. A worker that died while starting fails the updates waiting for
   * it: one that always does would otherwise keep them, the runner's stop()
   * and the process waiting for good. Later updates wait for the next try.
   */
  private died(slot: Slot, uptime: number, reason: string, starting: boolean): void {
    if (this.closed) return;
    if (starting) {
      for (const job of this.takeQueued(slot))
        job.reject(
          new Error(
            `Worker ${slot.index} ${reason}, so update ${job.update.update_id} was not handled`,
          ),
        );
    }
    slot.lastError = reason;
    slot.failures = uptime >= STABLE_MS ? 1 : slot.failures + 1;
    const delay =
      slot.failures <= 1 ? 0 : Math.min(BACKOFF_BASE_MS * 2 ** (slot.failures - 2), BACKOFF_MAX_MS);
    log(
      `worker ${slot.index} ${reason}; restarting in ${delay} ms` +
        (slot.failures > 1 ? ` (${slot.failures} quick failures in a row)` : ""),
    );
    slot.retry = setTimeout(() => {
      if (this.closed) return;
      slot.restarts += 1;
      this.spawn(slot);
    }, delay);
    this.updateRefs(slot);
  }

  private post(slot: Slot, worker: Worker, job: Job): void {
    const id = job.update.update_id;
    try {
      const message: UpdateMessage = isReplayed(job.update)
        ? { update: job.update, replayed: true }
        : { update: job.update };
      worker.postMessage(message);
    } catch (error) {
      job.reject(
        new Error(`Cannot send update ${id} to worker ${slot.index}: ${describeError(error)}`),
      );
      return;
    }
    const jobs = slot.posted.get(id);
    if (jobs === undefined) slot.posted.set(id, [job]);
    else jobs.push(job);
    slot.postedCount += 1;
    this.updateRefs(slot);
  }

  private settle(slot: Slot, message: ResultMessage): void {
    const jobs = slot.posted.get(message.id);
    const job = jobs?.shift();
    if (jobs === undefined || job === undefined) return;
    if (jobs.length === 0) slot.posted.delete(message.id);
    slot.postedCount -= 1;
    this.updateRefs(slot);
    if (message.ok) job.resolve();
    else job.reject(workerError(slot.index, message.id, message.error));
  }

  /** Empties the slot's queue, for its updates to be posted or failed. */
  private takeQueued(slot: Slot): Job[] {
    clearTimeout(slot.waitTimer);
    slot.waitTimer = undefined;
    return slot.queued.splice(0);
  }

  /** Arms the timer that fails the queued updates once the oldest has waited too long. */
  private armWait(slot: Slot): void {
    const oldest = slot.queued[0];
    if (slot.waitTimer !== undefined || oldest === undefined || !Number.isFinite(this.startTimeout))
      return;
    const due = oldest.queuedAt + this.startTimeout - performance.now();
    // A wait past the timer cap fires early, and expireWaiting() arms the rest.
    slot.waitTimer = setTimeout(() => {
      slot.waitTimer = undefined;
      this.expireWaiting(slot);
    }, timerDelay(due));
    // The worker (or its restart timer) holds the process while updates wait.
    slot.waitTimer.unref();
  }

  private expireWaiting(slot: Slot): void {
    const oldest = slot.queued[0];
    if (oldest === undefined) return;
    // Node may fire a timer a little early by this clock.
    if (performance.now() - oldest.queuedAt < this.startTimeout) {
      this.armWait(slot);
      return;
    }
    slot.overdue = true;
    const jobs = this.takeQueued(slot);
    log(
      `worker ${slot.index} is not ready after ${this.startTimeout} ms${slot.lastError === undefined ? "" : ` (the previous one ${slot.lastError})`}: failing ${jobs.length} waiting update(s), and later ones until it is`,
    );
    for (const job of jobs) job.reject(this.notReadyError(slot, job.update.update_id));
    this.updateRefs(slot);
  }

  private notReadyError(slot: Slot, id: number): Error {
    const state = slot.worker === undefined ? "waiting to be restarted" : "still starting";
    const previous = slot.lastError === undefined ? "" : `; the previous one ${slot.lastError}`;
    return new Error(
      `Worker ${slot.index} is ${state} after an update waited ${this.startTimeout} ms for it${previous}, so update ${id} was not handled (a worker is ready once its file, top-level awaits included, has been imported; see the startTimeoutMilliseconds option)`,
    );
  }

  private rejectPosted(slot: Slot, error: (id: number) => Error): void {
    const posted = [...slot.posted.values()].flat();
    slot.posted.clear();
    slot.postedCount = 0;
    this.updateRefs(slot);
    for (const job of posted) job.reject(error(job.update.update_id));
  }

  private rejectAll(slot: Slot, error: (id: number) => Error): void {
    const queued = this.takeQueued(slot);
    this.rejectPosted(slot, error);
    for (const job of queued) job.reject(error(job.update.update_id));
  }

  /**
   * Holds the process open only while there is work: an idle worker (or a
   * pending restart with nothing waiting for it) must not stop the process
   * from exiting after the runner has stopped.
   */
  private updateRefs(slot: Slot): void {
    const busy = slot.inFlight > 0 && !this.closed;
    if (slot.worker !== undefined) {
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
    if (slot.retry !== undefined) {
      if (busy) slot.retry.ref();
      else slot.retry.unref();
    }
  }
}

function workerError(index: number, id: number, error: SerializedError): Error {
  const cause = new Error(error.message);
  cause.name = error.name;
  if (error.stack !== undefined) cause.stack = error.stack;
  return new Error(`Worker ${index} failed to handle update ${id}: ${error.message}`, { cause });
}

function closedError(id: number, index?: number): Error {
  const where = index === undefined ? "" : ` by worker ${index}`;
  return new Error(`distribute() was closed before update ${id} was handled${where}`);
}

/** FNV-1a: cheap, stable across processes, and spreads sequential chat ids evenly. */
function defaultKey(ctx: object): string | number | undefined {
  const { chat, from } = ctx as { chat?: { id?: unknown }; from?: { id?: unknown } };
  const id = chat?.id ?? from?.id;
  return typeof id === "number" || typeof id === "string" ? id : undefined;
}

function defaultCount(): number {
  const cores =
    typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, cores - 1);
}

function checkCount(value: unknown): number {
  const count = checkNumber("count", value, { min: 1, integer: true });
  if (!Number.isFinite(count)) {
    throw new RangeError(`Option \`count\` must be a finite integer >= 1, but got ${show(value)}.`);
  }
  return count;
}

/**
 * What each worker thread runs: it imports the worker file and says it is
 * ready only once that import has settled, top-level awaits included, so no
 * update reaches handlers not installed yet; and only if the file created a
 * BotWorker, which would otherwise leave the updates sent to it unanswered.
 * A failed import is an uncaught error of the thread: a start-up crash.
 */
const BOOTSTRAP = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.file).then(() => {
  if (globalThis[Symbol.for("${BOT_WORKER_KEY}")] !== true)
    throw new Error("the worker file " + workerData.file + " created no BotWorker");
  parentPort.postMessage({ ready: true });
});
`;

/**
 * Resolves the specifier to the URL the worker thread imports, now, so that a
 * typo fails when `distribute()` is called instead of as a crash loop later.
 */
function workerFile(specifier: unknown): string {
  const expected = "a path or file: URL of an existing worker file";
  let path: string;
  if (specifier instanceof URL) {
    if (specifier.protocol === "data:") return specifier.href;
    if (specifier.protocol !== "file:") {
      throw new TypeError(
        `Argument \`specifier\` must be ${expected}, but got the URL ${JSON.stringify(redact(specifier.href))}.`,
      );
    }
    path = fileURLToPath(specifier);
  } else if (typeof specifier === "string" && specifier !== "") {
    path = specifier.startsWith("file:") ? fileURLToPath(specifier) : resolvePath(specifier);
  } else {
    throw new TypeError(`Argument \`specifier\` must be ${expected}, but got ${show(specifier)}.`);
  }
  // An extensionless path, as require() takes it; .ts for loaders such as tsx.
  const file = ["", ".js", ".ts"]
    .map((ext) => path + ext)
    .find((candidate) => statSync(candidate, { throwIfNoEntry: false })?.isFile() === true);
  if (file === undefined) {
    throw new TypeError(
      `Argument \`specifier\` must be ${expected}, but got ${show(typeof specifier === "string" ? specifier : specifier.href)}, and there is no file at ${path}.`,
    );
  }
  return pathToFileURL(file).href;
}
