import { fdatasyncSync, renameSync, writeSync } from "node:fs";
import { type FileHandle, mkdir, open, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as zlib from "node:zlib";
import type { Update } from "grammy/types";
import { describeError, logger } from "../util/log.js";
import { checkNumber, optionalObject, rejectUnknownKeys, show } from "../util/options.js";
import { errorCode, fsError, removeFile } from "./files.js";
import { JournalLock } from "./lock.js";
import { Unsettled } from "./unsettled.js";

const log = logger("journal");

/**
 * What a journal knows after {@link UpdateJournal.open}: the updates a previous
 * run fetched (so Telegram may already have forgotten them) but never finished,
 * and where fetching should go on.
 *
 * @example
 * ```ts
 * const { pending, offset } = await journal.open();
 * console.log(`${pending.length} updates to handle again, next offset ${offset}`);
 * ```
 */
export interface JournalRecovery<Y> {
  /** Appended and never settled, in the order they were appended. */
  pending: Y[];
  /** The offset passed with the last append, or `undefined` for a new journal. */
  offset: number | undefined;
}

/**
 * A durable log of fetched updates, so that a crash (SIGKILL, OOM, power
 * loss) between confirming a batch to Telegram and finishing its handlers does
 * not lose updates. `run(bot, { journal })` uses it like this:
 *
 * 1. `open()` once per start, before the first fetch; the pending updates are
 *    handled again before any new ones, and fetching goes on at `offset`.
 * 2. `append(batch, nextOffset)` for every fetched batch; the next getUpdates
 *    (whose offset confirms the batch to Telegram) waits for its promise.
 * 3. `settle(update_id)` when a handler is done (success, error or timeout).
 * 4. `check()`, if the journal has it, before every getUpdates (awaited if
 *    it returns a promise).
 * 5. On stop: `flush()`, then the final confirmation to Telegram, then `close()`.
 *
 * An `append()` or `flush()` that throws or rejects, or a `check()` that
 * does, ends the runner (`task()` rejects, even during a stop) rather than
 * confirming updates that are not stored. `fileJournal(dir)` is the built-in
 * implementation; implement this interface for other stores (Redis, a
 * database).
 *
 * @example
 * ```ts
 * const pendingById = new Map<number, Update>();
 * const memoryJournal: UpdateJournal = {
 *   open: async () => ({ pending: [...pendingById.values()], offset: undefined }),
 *   append: async (updates) => void updates.forEach((u) => pendingById.set(u.update_id, u)),
 *   settle: (id) => void pendingById.delete(id),
 *   flush: async () => {},
 *   close: async () => {},
 * };
 * run(bot, { journal: memoryJournal }); // survives handle.stop()/start(), not a crash
 * ```
 */
export interface UpdateJournal<Y extends { update_id: number } = Update> {
  /** Takes ownership of the store (rejecting if another process has it) and reads it. */
  open(): Promise<JournalRecovery<Y>>;
  /**
   * Stores a fetched batch and the offset that comes after it. Resolves once
   * both are durable: the runner confirms the batch to Telegram only then.
   * Must return a promise, even for a synchronous store (e.g. an `async`
   * function): the runner fails on anything else rather than take the
   * batch as stored.
   */
  append(updates: readonly Y[], offset: number): Promise<void>;
  /**
   * Records that an update is done. May be buffered: a settle record lost in a
   * crash only makes the update be handled once more. Must not throw.
   */
  settle(updateId: number): void;
  /** Makes everything recorded so far durable, settle records included. */
  flush(): Promise<void>;
  /**
   * Optional: throws (or rejects) if the store can no longer take updates,
   * for instance because another process has taken it over. Called (and
   * awaited if it returns a promise) before every getUpdates, so that a
   * runner that lost its store stops rather than poll on: Telegram ends the
   * older of two polls with 409 Conflict, so its next poll would stop the
   * store's new owner instead. Should be cheap.
   */
  check?(): void | Promise<void>;
  /** Flushes and releases the store; `open()` may be called again afterwards. */
  close(): Promise<void>;
}

/**
 * Options of {@link fileJournal}.
 *
 * @example
 * ```ts
 * run(bot, { journal: fileJournal("./", { compactBytes: 4 * 1024 * 1024 }) });
 * ```
 */
export interface FileJournalOptions {
  /**
   * Rewrite the log without its settled entries once it is larger than this
   * many bytes and less than half of it is unsettled updates. The rewritten
   * log is preallocated (zero-filled) up to this size, and a spare file of
   * that size is kept ready for the next compaction, so the journal takes
   * twice this much disk space while the runner runs. A whole number of
   * bytes, at most 1 GiB. Default: 8 MiB.
   */
  compactBytes?: number;
  /**
   * Longest time, in milliseconds, that settle records wait in memory before
   * they are written and fsynced.
   * Default: 10.
   */
  settleDelayMilliseconds?: number;
}

const FILE_JOURNAL_KEYS = ["compactBytes", "settleDelayMilliseconds"] as const;
const LOG_NAME = "journal.log";
const LOCK_NAME = "journal.lock";
const SPARE_NAME = "journal.spare";
const FORMAT = "grammy-runner";
const VERSION = 2;
const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;
const MAX_COMPACT_BYTES = 1024 * 1024 * 1024;
/** Zeros written (and, for a spare, fsynced) at a time. */
const ZERO_STEP = 1024 * 1024;
/** Preallocated room beyond the compaction point, for the round that crosses it. */
const ALLOCATION_SLACK = 64 * 1024;
/**
 * An fsync slower than this (a running average, in milliseconds) moves off
 * the event loop to the thread pool; see {@link FileJournal.sync}.
 */
const INLINE_SYNC_LIMIT_MS = 1;
const DEFAULT_SETTLE_DELAY_MS = 10;
/** How recent a write round's lock check `check()` takes as its own, in milliseconds. */
const RECENT_CHECK_MS = 1;
/** The largest encoding buffer a journal keeps between rounds. */
const MAX_KEPT_ENCODER_BYTES = 1024 * 1024;

/**
 * Update objects handed to the bot from a journal rather than from Telegram.
 * A WeakSet of the very objects passed to `bot.handleUpdate`, since grammY's
 * `ctx.update` is that object: nothing to copy, nothing to clean up. Shared
 * through the global object, like the registry of held locks, so that a handler
 * importing `isReplayed` from the other build (ESM or CJS) still sees it.
 */
const REPLAYED_KEY = Symbol.for("grammy-runner.replayed-updates");
const shared = globalThis as Record<symbol, WeakSet<object> | undefined>;
const replayedUpdates: WeakSet<object> = shared[REPLAYED_KEY] ?? new WeakSet();
shared[REPLAYED_KEY] = replayedUpdates;

/** Marks updates read back from a journal; see {@link isReplayed}. */
export function markReplayed(update: object): void {
  replayedUpdates.add(update);
}

/**
 * Whether `update` was read back from the journal after a crash or an
 * abandoned run, rather than fetched from Telegram. Such an update was handed
 * to the bot before and its handler may have run in part or even completely
 * (its settle record can be lost in a crash), so a handler with side effects
 * that must happen once should deduplicate by `update_id`: e.g. record the
 * `update_id` in the same database transaction as the effect (a unique key),
 * and skip the effect if it is already there. Checking only replayed updates
 * keeps the fast path free of that lookup.
 *
 * It works in `distribute()` worker threads too: the worker's copy of the
 * update carries the mark.
 *
 * @param update `ctx.update`, or the object passed to `bot.handleUpdate`
 * @returns `true` for an update replayed from the journal
 *
 * @example
 * ```ts
 * import { isReplayed } from "grammy-runner";
 *
 * bot.on("message", async (ctx) => {
 *   const id = ctx.update.update_id;
 *   if (isReplayed(ctx.update) && (await db.processed.has(id))) return; // done before the crash
 *   await db.transaction(async (tx) => {
 *     await tx.processed.add(id);
 *     await tx.orders.create(ctx.message);
 *   });
 *   await ctx.reply("Order placed");
 * });
 * ```
 */
export function isReplayed(update: unknown): boolean {
  return typeof update === "object" && update !== null && replayedUpdates.has(update);
}

/**
 * Checks the `journal` option of `run()`: an object with the five functions of
 * {@link UpdateJournal}.
 */
export function checkJournal<Y extends { update_id: number }>(value: unknown): UpdateJournal<Y> {
  const j = value as Partial<Record<keyof UpdateJournal<Y>, unknown>> | null;
  if (typeof j !== "object" || j === null) throw journalError(show(value));
  const missing = (["open", "append", "settle", "flush", "close"] as const).find(
    (key) => typeof j[key] !== "function",
  );
  if (missing !== undefined) throw journalError(`an object without a \`${missing}\` function`);
  if (j.check !== undefined && typeof j.check !== "function")
    throw journalError(`an object whose \`check\` is ${show(j.check)} rather than a function`);
  return value as UpdateJournal<Y>;
}

function journalError(detail: string): TypeError {
  return new TypeError(
    `Option \`journal\` must be an UpdateJournal (an object with open, append, settle, flush and close functions, and optionally check), e.g. fileJournal("./"), but got ${detail}.`,
  );
}

/**
 * A journal in a directory of the local file system, for
 * `run(bot, { journal: fileJournal(dir) })`: every fetched batch is written
 * and fsynced before Telegram is told it arrived, so that after a crash the
 * updates whose handlers had not finished are handled again (flagged by
 * {@link isReplayed}), first and in their original order.
 *
 * The directory (created if missing) holds `journal.log`, an append-only log
 * that is compacted as entries settle (preallocated to `compactBytes`, 8 MiB
 * by default, while the runner runs, with `journal.spare` of that size ready
 * for the next compaction), and `journal.lock`, which names its owner: a
 * second process opening the same directory fails, at once if the owner
 * runs on this host in the same pid namespace, within 15 s if it runs on
 * another host or in another container; a lock whose owner is gone is taken
 * over (at once for a dead pid of this host, pid namespace and boot, after
 * 15 s without a touch otherwise). Each record is checksummed, so a
 * record torn by a crash mid-write is discarded. The log contains the updates
 * (user messages), so it is created readable by its owner only.
 *
 * @param dir The directory of the journal; one per bot process
 * @param options When to compact and how long settle records may wait
 * @returns A journal for `run()`'s `journal` option
 *
 * @example
 * ```ts
 * import { fileJournal, isReplayed, run } from "grammy-runner";
 *
 * bot.on("message", (ctx) => ctx.reply(isReplayed(ctx.update) ? "Sorry for the wait" : "Hi"));
 * const handle = run(bot, { journal: fileJournal("../data/journal") });
 * process.once("SIGTERM", () => handle.stop()); // a clean stop leaves nothing to replay
 * ```
 */
export function fileJournal<Y extends { update_id: number } = Update>(
  dir: string,
  options?: FileJournalOptions,
): UpdateJournal<Y> {
  if (typeof dir !== "string" || dir.length === 0)
    throw new TypeError(
      `fileJournal: the directory must be a non-empty string path, but got ${show(dir)}.`,
    );
  const opts = optionalObject("fileJournal options", options);
  rejectUnknownKeys("fileJournal options", opts, FILE_JOURNAL_KEYS);
  // Bounded: the log is preallocated to this size.
  const compactBytes = checkNumber("compactBytes", opts.compactBytes ?? DEFAULT_COMPACT_BYTES, {
    min: 0,
    max: MAX_COMPACT_BYTES,
    integer: true,
  });
  const settleDelay = checkNumber(
    "settleDelayMilliseconds",
    opts.settleDelayMilliseconds ?? DEFAULT_SETTLE_DELAY_MS,
    { min: 0, max: 2 ** 31 - 1 },
  );
  return new FileJournal<Y>(resolve(dir), compactBytes, settleDelay);
}

/** A zero-filled file for the next compaction, open, and how much of it is zeros. */
interface Spare {
  file: FileHandle;
  size: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

class FileJournal<Y extends { update_id: number }> implements UpdateJournal<Y> {
  private readonly path: string;
  private readonly lock: JournalLock;
  private readonly sparePath: string;
  /** The open in progress, for a close() meanwhile. */
  private opening: Promise<JournalRecovery<Y>> | undefined;
  /** The close in progress, for callers of close() or flush() meanwhile. */
  private closing: Promise<void> | undefined;
  /**
   * The zero-filled file the next compaction writes into, once ready;
   * `undefined` if it could not be made. Kept open from its creation on:
   * reopened by name, it could be another owner's file by then.
   */
  private spare: Promise<Spare | undefined> | undefined;
  private state: "closed" | "opening" | "open" | "closing" = "closed";
  private fd: FileHandle | undefined;
  /** Where the log's records end; the file may go on with preallocated zeros. */
  private size = 0;
  /** `size` right after the last compaction. */
  private compactedSize = 0;
  /** Writer rounds so far; each record carries its round's number. */
  private rounds = 0;
  /** Running average of fsync durations in milliseconds. */
  private syncCost = 0;
  private unsettled = new Unsettled();
  private offset: number | undefined;
  /**
   * Records waiting for the writer, which numbers and checksums them: JSON
   * objects without their opening brace, where the writer puts the round.
   */
  private lines: string[] = [];
  private readonly encoder = new RoundEncoder();
  private settled: number[] = [];
  /** Callers waiting for the next fsync. */
  private waiters: Waiter[] = [];
  /** Writer rounds run one after another on this chain; a round never rejects. */
  private chain: Promise<void> = Promise.resolve();
  private roundScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  /** When a round that wrote records last found the lock held, on both clocks. */
  private writtenAt = { monotonic: Number.NEGATIVE_INFINITY, wall: Number.NEGATIVE_INFINITY };
  /** The first write error; every later append or flush rejects with it. */
  private failure: Error | undefined;

  constructor(
    private readonly dir: string,
    private readonly compactBytes: number,
    private readonly settleDelay: number,
  ) {
    this.path = join(dir, LOG_NAME);
    this.lock = new JournalLock(dir, join(dir, LOCK_NAME), (error) => this.fail(error));
    this.sparePath = join(dir, SPARE_NAME);
  }

  open(): Promise<JournalRecovery<Y>> {
    if (this.state !== "closed")
      return Promise.reject(
        new Error(
          this.state === "closing"
            ? `The journal ${this.path} is closing; wait for close() before opening it again.`
            : `The journal ${this.path} is already open; close it before opening it again.`,
        ),
      );
    this.state = "opening";
    this.opening = this.load();
    return this.opening;
  }

  private async load(): Promise<JournalRecovery<Y>> {
    let pending: Y[];
    try {
      try {
        await mkdir(this.dir, { recursive: true });
      } catch (error) {
        throw fsError(`Cannot create the journal directory ${this.dir}`, error);
      }
      this.failure = undefined;
      await this.lock.acquire();
      try {
        const { updates, offset, discarded } = parseLog<Y>(await this.read(), this.path);
        if (discarded > 0)
          log(`${this.path}: discarded a torn last record (${discarded} bytes) left by a crash`);
        pending = [...updates.values()];
        this.unsettled.reset([...updates.keys()], JSON.stringify(pending));
        this.offset = offset;
        // Rewriting at once drops what is settled and any torn tail, so that
        // new records never follow garbage.
        await this.compact();
      } catch (error) {
        // A compaction that failed after its rename has made its file the log.
        await this.fd?.close().catch(noop);
        this.fd = undefined;
        await this.lock.release();
        throw error;
      }
    } catch (error) {
      this.state = "closed";
      throw error;
    }
    this.state = "open";
    log(`opened ${this.path}: ${pending.length} unsettled, offset ${this.offset}`);
    return { pending, offset: this.offset };
  }

  append(updates: readonly Y[], offset: number): Promise<void> {
    if (this.state !== "open")
      return Promise.reject(new Error(`The journal ${this.path} is not open.`));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const ids = updates.map((update) => update.update_id);
    let text: string;
    if (this.unsettled.follows(ids)) {
      text = JSON.stringify(updates);
      this.unsettled.addText(ids, text);
    } else {
      const json = updates.map((update) => JSON.stringify(update));
      this.unsettled.add(ids, json);
      text = `[${json.join(",")}]`;
    }
    this.offset = offset;
    // Settles so far go first: one of them may be of an id this batch brings again.
    this.takeSettled();
    this.lines.push(`"o":${JSON.stringify(offset)},"u":${text}}`);
    return this.durable();
  }

  settle(updateId: number): void {
    if (this.state !== "open" || this.failure !== undefined) return;
    // Unknown: settled already (e.g. timed out, then failed).
    if (!this.unsettled.delete(updateId)) return;
    this.settled.push(updateId);
    if (this.timer === undefined && !this.roundScheduled) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.settleDelay);
      // Settle records are an optimisation; they must not keep the process alive.
      this.timer.unref();
    }
  }

  check(): void {
    if (this.state !== "open") throw new Error(`The journal ${this.path} is not open.`);
    if (this.failure !== undefined) throw this.failure;
    // Right after a round that wrote a batch, whose lock check passed: within
    // so short a time no takeover fits, since one needs this process silent
    // for a lease. The wall clock (whole milliseconds) only rules out a
    // suspend meanwhile.
    const monotonic = performance.now() - this.writtenAt.monotonic;
    const wall = Date.now() - this.writtenAt.wall;
    if (monotonic >= 0 && monotonic < RECENT_CHECK_MS && wall >= 0 && wall <= RECENT_CHECK_MS + 1)
      return;
    try {
      this.lock.ensureHeld();
    } catch (error) {
      // The lock may have reported the loss itself already.
      if (this.failure === undefined) this.fail(error);
      throw this.failure;
    }
  }

  flush(): Promise<void> {
    // While closing: the close flushes everything; wait for it.
    if (this.state === "closing") return this.closing ?? Promise.resolve();
    if (this.state !== "open") return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.durable();
  }

  close(): Promise<void> {
    // Once open, close; a failed open holds nothing.
    if (this.state === "opening")
      return (this.opening ?? Promise.resolve()).then(
        () => this.close(),
        () => undefined,
      );
    if (this.state === "closing") return this.closing ?? Promise.resolve();
    if (this.state !== "open") return Promise.resolve();
    this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = "closing";
    let error: unknown;
    try {
      this.schedule();
      await this.chain;
      if (this.failure !== undefined) error = this.failure;
      // After a clean stop this leaves just the header: nothing to replay.
      else await this.compact(false);
    } catch (caught) {
      error = caught;
    } finally {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      await this.fd?.close().catch(noop);
      this.fd = undefined;
      this.lines = [];
      this.settled = [];
      await this.dropSpare();
      await this.lock.release();
      this.state = "closed";
      log(`closed ${this.path}`);
    }
    if (error !== undefined) throw error;
  }

  /** Moves the buffered settles into a record, in order with the batches around them. */
  private takeSettled(): void {
    if (this.settled.length === 0) return;
    this.lines.push(`"s":[${this.settled.join(",")}]}`);
    this.settled = [];
  }

  /** Resolves after the next fsync that covers everything recorded so far. */
  private durable(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /**
   * Queues a writer round unless one is queued and not started yet: records
   * and waiters that arrive while a round writes and fsyncs all go into the
   * next round, so one fsync serves every batch appended meanwhile.
   */
  private schedule(): void {
    if (this.roundScheduled) return;
    this.roundScheduled = true;
    this.chain = this.chain.then(() => this.round());
  }

  private async round(): Promise<void> {
    this.roundScheduled = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.takeSettled();
    const lines = this.lines;
    const waiters = this.waiters;
    this.lines = [];
    this.waiters = [];
    if (this.failure === undefined) {
      try {
        const fd = this.fd;
        if (fd === undefined) throw new Error("the log file is not open");
        // Taken before the lock check, so that a pause after it shows.
        const checkedAt = { monotonic: performance.now(), wall: Date.now() };
        // A process that lost its lock while paused must not write on.
        this.lock.ensureHeld();
        if (lines.length > 0) {
          this.writtenAt = checkedAt;
          const data = this.encoder.encode(++this.rounds, lines);
          // Synchronous: copying a batch into the page cache takes microseconds,
          // far less than a round trip through the thread pool, and the fsync
          // (the slow part) then starts at once rather than once the event loop
          // has run the handlers of the batch just fetched. Positional: the
          // file goes on with preallocated zeros.
          let done = 0;
          while (done < data.length)
            done += writeSync(fd.fd, data, done, data.length - done, this.size + done);
          this.size += data.length;
        }
        // Settle-only rounds too: then a crash can tear the last round only,
        // which is what the reader allows for.
        if (lines.length > 0 || waiters.length > 0) await this.sync(fd);
      } catch (error) {
        this.fail(error);
      }
    }
    for (const waiter of waiters) {
      if (this.failure === undefined) waiter.resolve();
      else waiter.reject(this.failure);
    }
    // After the waiters: their records are durable already, so the next
    // getUpdates need not wait for the rewrite (the next round does).
    if (
      this.failure === undefined &&
      this.size > this.compactBytes &&
      this.unsettled.bytes * 2 < this.size &&
      // bytes counts UTF-16 units, size UTF-8 bytes: with non-Latin text the
      // first test can hold right after a compaction. Growing twice over
      // since the last one keeps compaction's cost per byte appended bounded.
      this.size > 2 * this.compactedSize
    ) {
      try {
        await this.compact();
      } catch (error) {
        this.fail(error);
      }
    }
  }

  /**
   * fsyncs the log. Where that is fast (a local disk: about 0.15 ms into
   * preallocated space), it runs right here on the event loop, since the
   * next getUpdates waits for it either way: handed to a thread-pool or a
   * worker thread on a 2-core VM, it took 0.4 ms end to end (0.13 ms to wake
   * the thread, 0.08 ms for the event loop to see it done). A slow disk (a
   * running average over {@link INLINE_SYNC_LIMIT_MS}) would block handlers,
   * so there it goes through the thread pool.
   */
  private async sync(fd: FileHandle): Promise<void> {
    const started = performance.now();
    if (this.syncCost < INLINE_SYNC_LIMIT_MS) fdatasyncSync(fd.fd);
    else await fd.datasync();
    this.syncCost += (performance.now() - started - this.syncCost) / 8;
  }

  private fail(error: unknown): void {
    this.failure = fsError(
      `Writing the journal ${this.path} failed, so the runner stops rather than confirm updates that are not stored`,
      error,
    );
    log(this.failure.message);
  }

  /**
   * Replaces the log by one holding only the unsettled updates: written to a
   * temporary file, fsynced, renamed over the log (atomic), then the directory
   * fsynced so the rename itself survives a power loss.
   *
   * With `preallocate`, the new file goes on with zeros up to the next
   * compaction point: an fsync after overwriting them has no file size to
   * record, which halves its time on ext4. The reader takes the first zero
   * byte after a record as the end of the log. The zeros are written ahead,
   * into a spare file, while the runner goes on: written here, they held up
   * fetching for about 12 ms per 8 MiB compaction.
   */
  private async compact(preallocate = true): Promise<void> {
    this.lock.ensureHeld();
    const offset = JSON.stringify(this.offset ?? null);
    const round = ++this.rounds;
    const lines = [
      record(`{"journal":"${FORMAT}","version":${VERSION},"offset":${offset},"r":${round}}`),
    ];
    // The JSON written when they were appended; one batch from now on, so
    // that partly settled batches no longer keep their settled JSON.
    const { ids, text } = this.unsettled.collect();
    this.unsettled.reset(ids, text);
    if (ids.length > 0) lines.push(record(`{"r":${round},"o":${offset},"u":${text}}`));
    const data = Buffer.concat(lines);
    const before = this.size;
    // Up to where the next compaction starts: compactBytes, or twice the
    // unsettled bytes while those are more than half of it.
    const allocation = preallocate
      ? Math.max(this.compactBytes, 2 * data.length) + ALLOCATION_SLACK
      : data.length;
    let spare: Spare | undefined;
    let spareFailed = false;
    if (preallocate && this.spare !== undefined) {
      spare = await this.spare;
      this.spare = undefined;
      spareFailed = spare === undefined;
    }
    const target = spare !== undefined ? this.sparePath : `${this.path}.tmp`;
    let out: FileHandle | undefined = spare?.file;
    try {
      // Waiting for the spare may have taken a while: check again before
      // touching files (a failure closes the spare below).
      this.lock.ensureHeld();
      // A spare that could not be made (a full disk) is not left behind.
      if (spareFailed) await removeFile(this.sparePath, log);
      // A file this process created, never one reopened by name: a process
      // that lost the directory while paused may still write into its own
      // files, which are then no longer the new owner's.
      out ??= await createFresh(target);
      await writeAll(out, data);
      const zeroFrom = Math.max(spare?.size ?? 0, data.length);
      try {
        if (allocation > zeroFrom) await writeZeros(out, zeroFrom, allocation);
      } catch (error) {
        // The zeros only make fsyncs faster; a log without them is as good.
        log(`could not preallocate ${this.path}: ${describeError(error)}`);
      }
      await out.sync();
      // Again: paused while writing, this process may have lost the directory
      // to another. Synchronous, so that no pause fits between check and rename.
      this.lock.ensureHeld();
      renameSync(target, this.path);
    } catch (error) {
      await out?.close().catch(noop);
      // A lost lock: the file may be the new owner's now.
      if (this.lock.stillHeld()) await removeFile(target, log);
      throw fsError(`Compacting the journal ${this.path} failed`, error);
    }
    // The file just renamed is the log now. Reopening it by name could open a
    // new owner's log, should this process lose the directory meanwhile.
    const old = this.fd;
    this.fd = out;
    // Not awaited: closing the replaced log frees its blocks, about 2 ms for 8 MiB.
    old?.close().catch(noop);
    try {
      await syncDirectory(this.dir);
    } catch (error) {
      throw fsError(`Compacting the journal ${this.path} failed`, error);
    }
    this.size = data.length;
    this.compactedSize = data.length;
    if (before > 0) log(`compacted ${this.path}: ${before} -> ${data.length} bytes`);
    if (preallocate) this.prepareSpare();
  }

  /** Starts zero-filling and fsyncing the next compaction's file in the background. */
  private prepareSpare(): void {
    if (!this.lock.stillHeld()) return;
    const size = this.compactBytes + ALLOCATION_SLACK;
    this.spare = (async () => {
      let file: FileHandle | undefined;
      try {
        // A new file: one left by a crash may hold records (it is never read),
        // or be held open by a process that lost the directory while paused.
        file = await createFresh(this.sparePath);
        // Each step fsynced: one 8 MiB flush held up the journal's own
        // fsyncs for milliseconds.
        const zeroed = await writeZeros(file, 0, size, () => this.lock.stillHeld());
        return { file, size: zeroed };
      } catch (error) {
        await file?.close().catch(noop);
        log(`could not prepare ${this.sparePath}, compacting without it: ${describeError(error)}`);
        return undefined;
      }
    })();
  }

  /** Waits for the spare being prepared, if any, and removes it: a stopped bot keeps no 8 MiB file. */
  private async dropSpare(): Promise<void> {
    const spare = this.spare;
    this.spare = undefined;
    if (spare === undefined) return;
    await (await spare)?.file.close().catch(noop);
    // A lost lock: the name may be the new owner's spare now.
    if (this.lock.stillHeld()) await removeFile(this.sparePath, log);
  }

  private async read(): Promise<string> {
    try {
      return await readFile(this.path, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return "";
      throw fsError(`Cannot read the journal ${this.path}`, error);
    }
  }
}

/**
 * Reads a log: the header, then batch and settle records, then possibly
 * preallocated zeros. A crash (a power loss above all) may have torn the last
 * writer round: only part of its pages reached the disk, in any order, so a
 * bad record may be followed by good ones of the same round. Those records
 * were not fsynced, so nothing was confirmed on their strength, and the
 * round is dropped. A bad record followed by records of other rounds means
 * the file is damaged, which is an error rather than a silent loss.
 */
function parseLog<Y extends { update_id: number }>(
  text: string,
  path: string,
): { updates: Map<number, Y>; offset: number | undefined; discarded: number } {
  /** Unsettled updates by id; a Map keeps them in append order. */
  const pending = new Map<number, Y>();
  let length = text.length;
  while (length > 0 && text.charCodeAt(length - 1) === 0) length--;
  if (length === 0) return { updates: pending, offset: undefined, discarded: 0 };
  const lines = text.slice(0, length).split("\n");
  const tail = lines.pop() ?? "";
  const records = lines.map(decodeLine);
  const header = records[0];
  if (
    header === undefined ||
    typeof header !== "object" ||
    header === null ||
    (header as { journal?: unknown }).journal !== FORMAT
  )
    throw new Error(
      `${path} is not a grammy-runner journal (its first line is not a journal header). Move the file away or give fileJournal() another directory.`,
    );
  const { version, offset: startOffset } = header as { version?: unknown; offset?: unknown };
  if (version !== VERSION)
    throw new Error(
      `${path} is a grammy-runner journal of version ${show(version)}, but this version reads version ${VERSION} only.`,
    );
  let offset = readOffset(startOffset, path, 1);
  const rounds = records.map((record, i) =>
    record === undefined ? 0 : readRound(record, path, i + 1),
  );
  let end = records.length;
  const firstBad = records.indexOf(undefined);
  if (firstBad !== -1) {
    // The torn round is the one of the last good record or the next one.
    const last = rounds[firstBad - 1];
    let torn: number | undefined;
    for (let i = firstBad + 1; i < records.length; i++) {
      if (records[i] === undefined) continue;
      torn ??= rounds[i];
      if (rounds[i] === torn && (torn === last || torn === last + 1)) continue;
      throw new Error(
        `${path} is damaged: line ${firstBad + 1} is unreadable but later records (line ${i + 1}) are intact. Move the file away to start a new journal (its unsettled updates are then lost).`,
      );
    }
    end = firstBad;
  }
  for (let i = 1; i < end; i++) {
    const record = records[i] as { o?: unknown; u?: unknown; s?: unknown };
    if (Array.isArray(record.u)) {
      offset = readOffset(record.o, path, i + 1);
      for (const update of record.u as unknown[]) {
        const id = (update as { update_id?: unknown } | null)?.update_id;
        if (typeof id !== "number" || !Number.isSafeInteger(id))
          throw new Error(
            `${path} is damaged: line ${i + 1} holds an update without an update_id.`,
          );
        pending.set(id, update as Y);
      }
    } else if (Array.isArray(record.s)) {
      for (const id of record.s as unknown[]) if (typeof id === "number") pending.delete(id);
    } else {
      throw new Error(`${path} is damaged: line ${i + 1} is not a journal record.`);
    }
  }
  let discarded = tail.length;
  for (let i = end; i < lines.length; i++) discarded += lines[i].length + 1;
  return { updates: pending, offset, discarded };
}

function readRound(record: unknown, path: string, line: number): number {
  const round = (record as { r?: unknown }).r;
  if (typeof round === "number" && Number.isSafeInteger(round)) return round;
  throw new Error(`${path} is damaged: line ${line} has no round number.`);
}

function readOffset(value: unknown, path: string, line: number): number | undefined {
  if (value === null) return undefined;
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  throw new Error(`${path} is damaged: line ${line} holds the offset ${show(value)}.`);
}

/**
 * `crc32 json\n` in UTF-8: the checksum tells a complete record from a torn or
 * damaged one. Encoded once, the checksum taken over the encoded bytes.
 */
function record(json: string): Buffer {
  const buffer = Buffer.allocUnsafe(Buffer.byteLength(json) + 10);
  putRecord(buffer, 0, "", json);
  return buffer;
}

/**
 * Writes the record of `head + body` (both JSON text, `head` ASCII) into
 * `buffer` at `at`, which has room for it; returns where the record ends.
 */
function putRecord(buffer: Buffer, at: number, head: string, body: string): number {
  const start = at + 9;
  const middle = start + buffer.write(head, start, "latin1");
  const end = middle + buffer.write(body, middle);
  buffer.write(crc32(buffer.subarray(start, end)), at, "latin1");
  buffer[at + 8] = 0x20; // " "
  buffer[end] = 0x0a; // "\n"
  return end + 1;
}

/**
 * Encodes writer rounds into one buffer that is kept from round to round:
 * allocating a fresh one for each 20 KB batch took longer than encoding the
 * batch into it. A round too large to keep a buffer for (a backlog written
 * at once while a slow disk syncs) gets one of its own.
 */
class RoundEncoder {
  private buffer = Buffer.allocUnsafe(64 * 1024);

  /**
   * The records of one round, each `{"r":round,` followed by one of `bodies`
   * (record JSON without its opening brace). Valid until the next call.
   */
  encode(round: number, bodies: readonly string[]): Buffer {
    const head = `{"r":${round},`;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    let room = 0;
    for (const body of bodies) room += head.length + 3 * body.length + 10;
    let buffer = this.buffer;
    if (buffer.length < room) {
      buffer = Buffer.allocUnsafe(room);
      if (room <= MAX_KEPT_ENCODER_BYTES) this.buffer = buffer;
    }
    let end = 0;
    for (const body of bodies) end = putRecord(buffer, end, head, body);
    return buffer.subarray(0, end);
  }
}

/** The record of a line, or `undefined` if the line is not a checksummed JSON record. */
function decodeLine(line: string): unknown {
  const space = line.indexOf(" ");
  if (space !== 8) return undefined;
  const json = line.slice(9);
  if (crc32(json) !== line.slice(0, 8)) return undefined;
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Node >= 20.15 computes CRC-32 natively, several times faster than the table below. */
const nativeCrc32 = (zlib as { crc32?: (data: string | Uint8Array) => number }).crc32;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of `data` (a string as UTF-8), as 8 hex digits. */
function crc32(data: string | Uint8Array): string {
  let value: number;
  if (nativeCrc32 !== undefined) {
    value = nativeCrc32(data);
  } else {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    let c = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    value = (c ^ 0xffffffff) >>> 0;
  }
  return value.toString(16).padStart(8, "0");
}

/** Writes `data` at the start of `file`. */
async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, done);
    done += bytesWritten;
  }
}

/**
 * Writes zeros from `start` up to `end`, {@link ZERO_STEP} at a time. With
 * `goOn`, each step is fsynced, and the writing stops once `goOn()` is false.
 * Returns where the zeros end.
 */
async function writeZeros(
  file: FileHandle,
  start: number,
  end: number,
  goOn?: () => boolean,
): Promise<number> {
  const zeros = Buffer.alloc(Math.min(end - start, ZERO_STEP));
  let at = start;
  while (at < end && goOn?.() !== false) {
    const { bytesWritten } = await file.write(zeros, 0, Math.min(zeros.length, end - at), at);
    at += bytesWritten;
    if (goOn !== undefined) await file.datasync();
  }
  return at;
}

/** Creates `path` anew (a new inode), removing any file of that name first. */
async function createFresh(path: string): Promise<FileHandle> {
  await removeFile(path, log);
  return open(path, "wx", 0o600);
}

/** Fsyncs a directory so a rename in it is durable; a no-op where directories cannot be opened. */

async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    const code = errorCode(error);
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw error;
  } finally {
    await handle?.close().catch(noop);
  }
}

function noop(): void {}
