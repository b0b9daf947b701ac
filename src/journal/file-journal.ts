import { fdatasyncSync, writeSync } from "node:fs";
import { type FileHandle, mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Update } from "grammy/types";
import { logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { checkNumber, optionalObject, show } from "../util/options.js";
import { RecentIds } from "../util/recent-ids.js";
import { MAX_TIMER_MS } from "../util/timers.js";
import { LogReplacer } from "./compaction.js";
import { errorCode, fsError } from "./files.js";
import type { JournalRecovery, UpdateJournal } from "./journal.js";
import { JournalLock } from "./lock.js";
import { batchBody, doneBody, encodeLog, parseLog, RoundEncoder } from "./log-format.js";
import { PendingUpdates } from "./pending.js";

const log = logger("journal");

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
  /**
   * How many of the latest appended update_ids the log remembers across
   * restarts (in the header that each compaction writes), so that
   * `webhook()` drops Telegram's re-sends of updates stored before a
   * restart. 0 turns it off (`run()` has no use for it). Default: 10,000.
   */
  recentIds?: number;
}

const FILE_JOURNAL_KEYS = ["compactBytes", "settleDelayMilliseconds", "recentIds"] as const;
const DEFAULT_RECENT_IDS = 10_000;
const LOG_NAME = "journal.log";
const LOCK_NAME = "journal.lock";
const SPARE_NAME = "journal.spare";
const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;
const MAX_COMPACT_BYTES = 1024 * 1024 * 1024;
/**
 * An fsync slower than this (a running average, in milliseconds) moves off
 * the event loop to the thread pool; see {@link FileJournal.sync}.
 */
const INLINE_SYNC_LIMIT_MS = 1;
const DEFAULT_DONE_DELAY_MS = 10;
/** How recent a write round's lock check `check()` takes as its own, in milliseconds. */
const RECENT_CHECK_MS = 1;

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
  const opts = optionalObject("fileJournal options", options, FILE_JOURNAL_KEYS);
  // Bounded: the log is preallocated to this size.
  const compactBytes = checkNumber("compactBytes", opts.compactBytes ?? DEFAULT_COMPACT_BYTES, {
    min: 0,
    max: MAX_COMPACT_BYTES,
    integer: true,
  });
  const doneDelay = checkNumber(
    "settleDelayMilliseconds",
    opts.settleDelayMilliseconds ?? DEFAULT_DONE_DELAY_MS,
    { min: 0, max: MAX_TIMER_MS },
  );
  const recentIds = checkNumber("recentIds", opts.recentIds ?? DEFAULT_RECENT_IDS, {
    min: 0,
    max: 1_000_000,
    integer: true,
  });
  return new FileJournal<Y>(resolve(dir), compactBytes, doneDelay, recentIds);
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The journal of {@link fileJournal}. Appends and done records are written
 * in rounds, one after another: a round writes everything recorded since the
 * last one and fsyncs it once, however many batches arrived meanwhile.
 */
class FileJournal<Y extends { update_id: number }> implements UpdateJournal<Y> {
  private readonly path: string;
  private readonly lock: JournalLock;
  private readonly replacer: LogReplacer;
  /** The open in progress, for a close() meanwhile. */
  private opening: Promise<JournalRecovery<Y>> | undefined;
  /** The close in progress, for callers of close() or flush() meanwhile. */
  private closing: Promise<void> | undefined;
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
  private readonly pending = new PendingUpdates();
  /** The latest appended ids, for the header of the next compaction. */
  private recent: RecentIds;
  private offset: number | undefined;
  /**
   * Records waiting for the writer, which numbers and checksums them: JSON
   * objects without their opening brace, where the writer puts the round.
   */
  private lines: string[] = [];
  private readonly encoder = new RoundEncoder();
  /** Ids passed to `settle()` that no record holds yet. */
  private doneIds: number[] = [];
  /** Callers waiting for the next fsync. */
  private waiters: Waiter[] = [];
  /** Writer rounds run one after another on this chain; a round never rejects. */
  private chain: Promise<void> = Promise.resolve();
  private roundScheduled = false;
  /** Writes the done records after `doneDelay` if no round does before. */
  private timer: NodeJS.Timeout | undefined;
  /** When a round that wrote records last found the lock held, on both clocks. */
  private writtenAt = { monotonic: Number.NEGATIVE_INFINITY, wall: Number.NEGATIVE_INFINITY };
  /** The first write error; every later append or flush rejects with it. */
  private failure: Error | undefined;

  constructor(
    private readonly dir: string,
    private readonly compactBytes: number,
    private readonly doneDelay: number,
    private readonly recentIds: number,
  ) {
    this.recent = new RecentIds(recentIds);
    this.path = join(dir, LOG_NAME);
    this.lock = new JournalLock(dir, join(dir, LOCK_NAME), (error) => this.fail(error));
    this.replacer = new LogReplacer(dir, this.path, join(dir, SPARE_NAME), this.lock, compactBytes);
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
    let recovered: Y[];
    try {
      try {
        await mkdir(this.dir, { recursive: true });
      } catch (error) {
        throw fsError(`Cannot create the journal directory ${this.dir}`, error);
      }
      this.failure = undefined;
      await this.lock.acquire();
      try {
        recovered = await this.recover();
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
    log(`opened ${this.path}: ${recovered.length} pending, offset ${this.offset}`);
    return { pending: recovered, offset: this.offset, recent: this.recent.list() };
  }

  /** Reads the log and rewrites it at once, which drops what is done and any torn tail. */
  private async recover(): Promise<Y[]> {
    const { pending, offset, discarded, recent } = parseLog<Y>(await this.read(), this.path);
    this.recent = new RecentIds(this.recentIds);
    for (const id of recent) this.recent.add(id);
    if (discarded > 0)
      log(`${this.path}: discarded a torn last record (${discarded} bytes) left by a crash`);
    const recovered = [...pending.values()];
    this.pending.reset([...pending.keys()], JSON.stringify(recovered));
    this.offset = offset;
    // New records must never follow garbage.
    await this.compact();
    return recovered;
  }

  append(updates: readonly Y[], offset: number): Promise<void> {
    if (this.state !== "open")
      return Promise.reject(new Error(`The journal ${this.path} is not open.`));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const ids = updates.map((update) => update.update_id);
    for (const id of ids) this.recent.add(id);
    let text: string;
    if (this.pending.follows(ids)) {
      text = JSON.stringify(updates);
      this.pending.addText(ids, text);
    } else {
      const json = updates.map((update) => JSON.stringify(update));
      this.pending.add(ids, json);
      text = `[${json.join(",")}]`;
    }
    this.offset = offset;
    // Done ids so far go first: one of them may be of an id this batch brings again.
    this.takeDone();
    this.lines.push(batchBody(offset, text));
    return this.durable();
  }

  settle(updateId: number): void {
    if (this.state !== "open" || this.failure !== undefined) return;
    // Not pending: done already (e.g. timed out, then failed).
    if (!this.pending.delete(updateId)) return;
    this.doneIds.push(updateId);
    if (this.timer === undefined && !this.roundScheduled) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.doneDelay);
      // Done records are an optimisation; they must not keep the process alive.
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
      this.doneIds = [];
      await this.replacer.dropSpare();
      await this.lock.release();
      this.state = "closed";
      log(`closed ${this.path}`);
    }
    if (error !== undefined) throw error;
  }

  /** Moves the buffered done ids into a record, in order with the batches around them. */
  private takeDone(): void {
    if (this.doneIds.length === 0) return;
    this.lines.push(doneBody(this.doneIds));
    this.doneIds = [];
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
    this.takeDone();
    const lines = this.lines;
    const waiters = this.waiters;
    this.lines = [];
    this.waiters = [];
    if (this.failure === undefined) {
      try {
        await this.write(lines, waiters.length > 0);
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
    if (this.compactionDue()) {
      try {
        await this.compact();
      } catch (error) {
        this.fail(error);
      }
    }
  }

  /** Writes one round's records and fsyncs them, also when there are none but `waited` for. */
  private async write(lines: readonly string[], waited: boolean): Promise<void> {
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
    // Rounds of done records only too: then a crash can tear the last round
    // only, which is what the reader allows for.
    if (lines.length > 0 || waited) await this.sync(fd);
  }

  /** Whether the log has grown enough, and is mostly done updates, to be rewritten. */
  private compactionDue(): boolean {
    return (
      this.failure === undefined &&
      this.size > this.compactBytes &&
      this.pending.bytes * 2 < this.size &&
      // bytes counts UTF-16 units, size UTF-8 bytes: with non-Latin text the
      // first test can hold right after a compaction. Growing twice over
      // since the last one keeps compaction's cost per byte appended bounded.
      this.size > 2 * this.compactedSize
    );
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
   * Replaces the log by one holding only the pending updates (see
   * {@link LogReplacer.replace}); with `preallocate`, it goes on with zeros up
   * to the next compaction, and a spare is made for that one.
   */
  private async compact(preallocate = true): Promise<void> {
    this.lock.ensureHeld();
    const round = ++this.rounds;
    // The JSON written when they were appended; one batch from now on, so
    // that partly done batches no longer keep their done JSON.
    const { ids, text } = this.pending.collect();
    this.pending.reset(ids, text);
    const data = encodeLog(
      round,
      this.offset,
      ids.length > 0 ? text : undefined,
      this.recent.list(),
    );
    const before = this.size;
    await this.replacer.replace(data, preallocate, (file) => {
      const old = this.fd;
      this.fd = file;
      // Not awaited: closing the replaced log frees its blocks, about 2 ms for 8 MiB.
      old?.close().catch(noop);
    });
    this.size = data.length;
    this.compactedSize = data.length;
    if (before > 0) log(`compacted ${this.path}: ${before} -> ${data.length} bytes`);
    if (preallocate) this.replacer.prepareSpare();
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
