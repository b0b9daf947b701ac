import { randomUUID } from "node:crypto";
import { readFileSync, readlinkSync, statSync, utimesSync } from "node:fs";
import { type FileHandle, link, open, realpath, rename, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { errorCode, fsError, removeFile } from "./files.js";

const log = logger("journal");

/** Lock files held by this process, shared by every copy of this module (ESM and CJS). */
const registry = globalThis as Record<symbol, Set<string> | undefined>;
const HELD_KEY = Symbol.for("grammy-runner.journal-locks");
const held: Set<string> = registry[HELD_KEY] ?? new Set();
registry[HELD_KEY] = held;

/** The lock's timing, in milliseconds. */
export interface LockTiming {
  /** How often an owner touches its lock (its modification time), to show that it lives. */
  readonly touchMs: number;
  /**
   * An owner that has not managed to touch its lock for this long (it was
   * paused, or its event loop blocked) checks that it still holds it before
   * writing, since others may have watched it go quiet and taken it over.
   */
  readonly recheckMs: number;
  /**
   * How long a lock whose owner cannot be proven dead is watched for a touch
   * before it is taken over, measured on the watcher's own clock, since
   * another host's clock may be off.
   */
  readonly watchMs: number;
  /** The longest pause between two looks at a watched lock. */
  readonly watchPollMs: number;
  /** A live pid's lock touched within this long (on this host's clock) is in use, no watching needed. */
  readonly freshMs: number;
  /**
   * How long a new lock is watched for a takeover working from an older
   * look, which may move it away and put it back; see `stayedPut()`.
   */
  readonly stayPutMs: number;
  /** As {@link stayPutMs}, while the new lock is missing: time for it to be put back. */
  readonly stayPutMissingMs: number;
}

/** The timing every lock uses; only tests shorten the watch. */
export const LOCK_TIMING: LockTiming = {
  touchMs: 10_000,
  recheckMs: 12_000,
  watchMs: 15_000,
  watchPollMs: 1_000,
  freshMs: 30_000,
  stayPutMs: 100,
  stayPutMissingMs: 500,
};

/**
 * Throws unless `timing` keeps the order the lock's safety rests on. Run
 * on {@link LOCK_TIMING} at import, so that an edit that breaks the order
 * fails every test that loads the lock.
 */
export function checkLockTiming(t: LockTiming): void {
  const rules: [holds: boolean, rule: string][] = [
    [
      t.touchMs < t.recheckMs,
      "touchMs < recheckMs: an owner whose touches come on time never needs the recheck",
    ],
    [
      t.recheckMs < t.watchMs,
      "recheckMs < watchMs: an owner quiet for long enough to be taken over has checked its lock before it writes",
    ],
    [
      t.stayPutMissingMs + t.touchMs + t.watchPollMs < t.watchMs,
      "stayPutMissingMs + touchMs + watchPollMs < watchMs: a watch sees an owner's touch, the first one (a touch interval after its new lock stayed put) too",
    ],
    [
      t.touchMs < t.freshMs,
      "touchMs < freshMs: the lock of a live owner looks fresh, so a second process fails at once rather than watch",
    ],
    [
      0 < t.stayPutMs && t.stayPutMs <= t.stayPutMissingMs,
      "0 < stayPutMs <= stayPutMissingMs: a missing lock is waited for at least as long as a present one",
    ],
  ];
  const broken = rules.find(([holds]) => !holds);
  if (broken !== undefined)
    throw new Error(`The journal lock's timing is out of order: ${broken[1]}.`);
}

checkLockTiming(LOCK_TIMING);

/** How many looks a new lock gets within {@link LockTiming.stayPutMs}. */
const STAY_PUT_POLLS = 5;

let memoizedPidSpace: string | undefined;

/**
 * Where this process's pid numbers mean something: its pid namespace (pids
 * of another container mean nothing here) and the boot (after a reboot, an
 * old pid belongs to some other process). Empty parts where the system has
 * no such file (not Linux). Read on first use, not at import.
 */
export function pidSpace(): string {
  memoizedPidSpace ??= [readLink("/proc/self/ns/pid"), readText("/proc/sys/kernel/random/boot_id")]
    .join(" ")
    .trim();
  return memoizedPidSpace;
}

function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

/** When this process started, in milliseconds since the epoch (a little early, to be safe). */
const PROCESS_STARTED = Date.now() - process.uptime() * 1000 - 1_000;

/** What a lock file says: `pid\nhost\npid space\ntoken\n`. */
interface Owner {
  /** 0 if the file names no pid: being written right now, or garbage. */
  pid: number;
  /** `os.hostname()`; empty in a lock that does not say. */
  host: string;
  /** {@link pidSpace} of the owner. */
  space: string;
  /** Random, one per acquire: tells this lock from any other with the same pid and host. */
  token: string;
  /** The file's modification time, in milliseconds since the epoch. */
  modified: number;
}

/**
 * The lock of a journal directory: a file created with O_EXCL, so that of two
 * processes exactly one wins. It names its owner (pid, host name, pid space,
 * that is pid namespace and boot, and a random token), and the owner touches
 * it every 10 s.
 *
 * Another process takes it over at once when the owner is provably gone: a
 * dead pid in the same host and pid space, or its own pid on a lock
 * older than itself. Otherwise (a process on another host, or in another
 * container, whose pid cannot be checked from here; or a live pid that
 * stopped touching the lock, a reused pid) it watches the lock for 15 s on
 * its own clock, and takes it over only if nobody touched it meanwhile. A
 * live pid that touched its lock in the last 30 s is in use: the second
 * process fails at once. The takeover renames the stale lock away (only one
 * process can) and puts it back if it turns out to have been touched.
 *
 * The owner checks the lock again before a write once it has not managed to
 * touch it for 12 s (paused, or its event loop blocked), and stops writing if
 * it is no longer its own or cannot be read.
 *
 * @example
 * ```ts
 * const lock = new JournalLock(dir, join(dir, "journal.lock"), (error) => stopWriting(error));
 * await lock.acquire(); // rejects, naming the owner, while another process holds it
 * lock.ensureHeld(); // before each write: throws if another process has taken it over
 * await lock.release();
 * ```
 */
export class JournalLock {
  private readonly host = hostname();
  /** The lock's real path: two spellings of one directory (symlinks) must not both own it. */
  private key = "";
  private token = "";
  private timer: NodeJS.Timeout | undefined;
  /**
   * When the last touch that found the lock ours began, on both clocks: the
   * monotonic one stops while the machine sleeps, the wall clock may jump.
   */
  private touched = { monotonic: 0, wall: 0 };
  /**
   * The lock file, kept open while held, so that its inode number cannot be
   * reused by a new file of that name: then comparing the number with what
   * the path names shows at once when the file was replaced.
   */
  private handle: FileHandle | undefined;
  /** The held file's inode and device. */
  private file = { ino: -1, dev: -1 };
  private lost: Error | undefined;

  /**
   * @param dir The journal directory, named in errors
   * @param path The lock file
   * @param onLost Called once if, while held, the lock is found removed or taken over
   * @param watchMs How long a lock that may be alive is watched (tests shorten it)
   */
  constructor(
    private readonly dir: string,
    readonly path: string,
    private readonly onLost: (error: Error) => void,
    private readonly watchMs = LOCK_TIMING.watchMs,
  ) {}

  /** Takes the lock, or rejects with an error naming the process that holds it. */
  async acquire(): Promise<void> {
    this.key = join(await realpath(dirname(this.path)), basename(this.path));
    if (held.has(this.key))
      throw new Error(
        `The journal in ${this.dir} is already in use by this process (lock ${this.path}); give each runner its own journal directory.`,
      );
    // Claimed before the first await: a second acquire() in this process must
    // not see our pid in a lock file not yet registered and call it stale.
    held.add(this.key);
    try {
      await this.create();
    } catch (error) {
      held.delete(this.key);
      throw error;
    }
    this.lost = undefined;
    this.timer = setInterval(() => void this.touch(this.token), LOCK_TIMING.touchMs);
    this.timer.unref();
  }

  /**
   * Throws if the lock is no longer ours. Costs one `stat` of the lock file
   * unless the file was replaced or this process has not touched it for a
   * while (it was paused): then it reads the lock, since a writer that lost
   * it must not write on.
   */
  ensureHeld(): void {
    if (this.lost !== undefined) throw this.lost;
    if (this.token === "") throw new Error(`The journal lock ${this.path} is not held.`);
    // Replaced (removed by hand, or a takeover that could not put a live lock
    // back): check it now.
    const named = statSync(this.path, { throwIfNoEntry: false });
    const replaced = named?.ino !== this.file.ino || named?.dev !== this.file.dev;
    if (!replaced && this.sinceTouch() < LOCK_TIMING.recheckMs) return;
    const started = now();
    // Past the lease: a writer that cannot tell whether it still owns the
    // journal stops, rather than write on beside another owner.
    this.checkOursNow();
    try {
      const date = new Date();
      utimesSync(this.path, date, date);
    } catch (error) {
      if (errorCode(error) !== "ENOENT")
        throw fsError(`Cannot touch the journal lock ${this.path}`, error);
    }
    // A taker may have moved it away between the read and the touch.
    this.checkOursNow();
    this.touched = started;
  }

  /** Milliseconds since the last counted touch, by whichever clock says longer. */
  private sinceTouch(): number {
    return Math.max(performance.now() - this.touched.monotonic, Date.now() - this.touched.wall);
  }

  /** Reads the lock now; throws (and reports it lost) unless it is ours. */
  private checkOursNow(): void {
    let owner: Owner | "gone";
    try {
      owner = parseOwner(readFileSync(this.path, "utf8"), 0);
    } catch (error) {
      if (errorCode(error) !== "ENOENT")
        throw fsError(`Cannot check the journal lock ${this.path}`, error);
      owner = "gone";
    }
    if (this.isOurs(owner)) return;
    this.lose(owner);
    throw this.lost;
  }

  /** {@link ensureHeld} as a boolean, for work that stops quietly once the lock is lost. */
  stillHeld(): boolean {
    try {
      this.ensureHeld();
      return true;
    } catch {
      return false;
    }
  }

  /** Gives the lock up: removes the file if it is still ours. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const token = this.token;
    this.token = "";
    const handle = this.handle;
    this.handle = undefined;
    if (!held.delete(this.key)) {
      await handle?.close().catch(noop);
      return;
    }
    try {
      // Remove only our own lock, never one another process has taken over.
      const owner = await this.read();
      if (typeof owner === "object" && owner.token === token) await unlink(this.path);
    } catch (error) {
      log(`could not remove the lock ${this.path}: ${describeError(error)}`);
    } finally {
      await handle?.close().catch(noop);
    }
  }

  private async create(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const token = randomUUID();
      // From before the file exists: a pause while writing it counts against the lease.
      const started = now();
      let file: FileHandle;
      try {
        file = await open(this.path, "wx", 0o600);
      } catch (error) {
        if (errorCode(error) !== "EEXIST")
          throw fsError(`Cannot create the journal lock ${this.path}`, error);
        const owner = await this.liveOwner();
        if (owner === "gone") continue;
        if (!("stale" in owner)) throw this.inUse(owner);
        await this.removeStale(owner.stale);
        continue;
      }
      try {
        await file.writeFile(`${process.pid}\n${this.host}\n${pidSpace()}\n${token}\n`);
        const { ino, dev } = await file.stat();
        this.file = { ino, dev };
      } catch (error) {
        // An empty lock would make every later start wait to see whether it lives.
        await file.close().catch(noop);
        await removeFile(this.path, log);
        throw fsError(`Cannot write the journal lock ${this.path}`, error);
      }
      if (!(await this.stayedPut())) {
        // Moved away by a taker working from an older look, and replaced meanwhile.
        await file.close().catch(noop);
        continue;
      }
      this.handle = file;
      this.token = token;
      this.touched = started;
      return;
    }
    throw new Error(
      `Could not take the journal lock ${this.path}: it keeps being created by another process.`,
    );
  }

  /**
   * Whether the lock file just created is still the one the path names a
   * moment later. A process taking over a stale lock from an older look may
   * move a fresh one away and put it back; if meanwhile a third process made
   * its own, only one of the two may keep it, and the one whose file is gone
   * starts over.
   */
  private async stayedPut(): Promise<boolean> {
    const step = LOCK_TIMING.stayPutMs / STAY_PUT_POLLS;
    for (let poll = 1; ; poll++) {
      await new Promise((wake) => setTimeout(wake, step));
      const named = statSync(this.path, { throwIfNoEntry: false });
      if (named !== undefined && (named.ino !== this.file.ino || named.dev !== this.file.dev))
        return false;
      // Missing: wait a little longer for it to be put back.
      const limit = named === undefined ? LOCK_TIMING.stayPutMissingMs : LOCK_TIMING.stayPutMs;
      if (poll * step >= limit) return named !== undefined;
    }
  }

  /**
   * Removes the lock `stale`, whose owner is gone, if it is still that very
   * lock. Renaming it to a name of our own is the step only one process can
   * take; the renamed file is then compared with what was found stale, and
   * put back if it changed meanwhile (its owner touched it after all).
   */
  private async removeStale(stale: Owner): Promise<void> {
    // Once more right before: a look taken a watch ago may be out of date.
    if (!sameLock(await this.read(), stale)) return;
    const mine = `${this.path}.${randomUUID()}`;
    try {
      await rename(this.path, mine);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return; // another process took it: try again
      throw fsError(`Cannot remove the stale journal lock ${this.path}`, error);
    }
    let moved: Owner | "gone";
    try {
      moved = await readOwner(mine);
    } catch (error) {
      moved = "gone";
      log(`could not read the lock moved to ${mine}: ${describeError(error)}`);
    }
    if (moved !== "gone" && sameLock(moved, stale)) {
      log(`took over the stale lock ${this.path}`);
    } else {
      // Alive after all: give it back, unless a new lock is there already
      // (then its owner finds its lock replaced before its next write).
      try {
        await link(mine, this.path);
      } catch (error) {
        if (errorCode(error) === "EEXIST") log(`a new lock took the place of ${this.path}`);
        // No hard links here (exFAT, some network file systems): put it back by name.
        else await rename(mine, this.path);
      }
    }
    await removeFile(mine, log);
  }

  private inUse(owner: Owner | string): Error {
    const who =
      typeof owner === "string"
        ? owner
        : owner.pid === 0
          ? "a process that is writing the lock right now"
          : describeOwner(owner, this.host);
    return new Error(
      `The journal in ${this.dir} is in use by ${who} (lock ${this.path}): only one bot process may use a journal directory. Stop that process, or give this one another directory.`,
    );
  }

  /**
   * The lock's owner if it may be alive, `{ stale }` with what was read if it
   * is not, `"gone"` if there is no lock file. A lock whose owner can be
   * proven neither dead nor alive is watched for a touch first.
   */
  private async liveOwner(): Promise<Owner | { stale: Owner } | "gone"> {
    const owner = await this.read();
    if (owner === "gone") return "gone";
    if (owner.pid !== 0 && this.checksPid(owner)) {
      if (!isAlive(owner.pid)) return { stale: owner };
      // Our own pid, yet not held by this thread: a previous incarnation with
      // the same pid (pid 1 in a restarted container) that crashed, if the
      // lock is older than this process; else another worker thread of ours.
      if (owner.pid === process.pid && owner.modified < PROCESS_STARTED) return { stale: owner };
      if (Date.now() - owner.modified <= LOCK_TIMING.freshMs) return owner;
    }
    // Another host or container (its pid means nothing here), a live pid that
    // stopped touching its lock, or a lock being written right now: an owner
    // that lives touches it within the watch.
    log(`watching the lock ${this.path} for ${this.watchMs} ms: is its owner alive?`);
    const until = performance.now() + this.watchMs;
    while (performance.now() < until) {
      await new Promise((wake) =>
        setTimeout(wake, Math.min(LOCK_TIMING.watchPollMs, this.watchMs / 5)),
      );
      const now = await this.read();
      if (now === "gone") return "gone";
      if (!sameLock(now, owner)) return now;
    }
    return { stale: owner };
  }

  /** Whether this process can tell from the pid whether the owner lives: same host, same pid space. */
  private checksPid(owner: Owner): boolean {
    return owner.host === this.host && owner.space === pidSpace();
  }

  /** What the lock file says, `"gone"` if there is none. */
  private read(): Promise<Owner | "gone"> {
    return readOwner(this.path);
  }

  private isOurs(owner: Owner | "gone"): boolean {
    return typeof owner === "object" && owner.token === this.token && this.token !== "";
  }

  private lose(owner: Owner | "gone"): void {
    if (this.lost !== undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    const by =
      owner === "gone"
        ? "nobody (it was removed)"
        : owner.pid === 0
          ? "nobody (it was overwritten with something else)"
          : describeOwner(owner, this.host);
    this.lost = new Error(
      `The journal lock ${this.path} now belongs to ${by}, though this process held it: another process took it over (this one last touched it ${Math.round(this.sinceTouch() / 1000)} s ago; was it paused?), or it was removed by hand.`,
    );
    this.onLost(this.lost);
  }

  /** Touches the lock for the acquire that `token` names; reports it lost if it is not ours. */
  private async touch(token: string): Promise<void> {
    const started = now();
    try {
      const owner = await this.read();
      // Released (and maybe acquired again) meanwhile: not this touch's business.
      if (this.token !== token || this.lost !== undefined) return;
      if (!this.isOurs(owner)) {
        this.lose(owner);
        return;
      }
      const date = new Date();
      await utimes(this.path, date, date);
      // Paused between the read and here, we may have touched a new owner's
      // lock: only a read after the touch shows it was ours.
      const after = await this.read();
      if (this.token !== token || this.lost !== undefined) return;
      if (!this.isOurs(after)) this.lose(after);
      else this.touched = started;
    } catch (error) {
      // A missed touch only matters after several in a row; the next one may work.
      log(`could not touch the lock ${this.path}: ${describeError(error)}`);
    }
  }
}

/** What a lock file says, `"gone"` if there is none; text and time read through one handle. */
async function readOwner(path: string): Promise<Owner | "gone"> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return "gone";
    throw fsError(`Cannot read the journal lock ${path}`, error);
  }
  try {
    const modified = (await file.stat()).mtimeMs;
    return parseOwner(await file.readFile("utf8"), modified);
  } catch (error) {
    throw fsError(`Cannot read the journal lock ${path}`, error);
  } finally {
    await file.close();
  }
}

/** Now, on both clocks. */
function now(): { monotonic: number; wall: number } {
  return { monotonic: performance.now(), wall: Date.now() };
}

function parseOwner(text: string, modified: number): Owner {
  const [pidLine = "", host = "", space = "", token = ""] = text.split("\n");
  const number = Number(pidLine.trim());
  const pid = pidLine.trim() !== "" && Number.isSafeInteger(number) && number > 0 ? number : 0;
  return { pid, host: host.trim(), space: space.trim(), token: token.trim(), modified };
}

/** Whether two reads found the very same lock file contents and modification time. */
function sameLock(a: Owner | "gone", b: Owner): boolean {
  return (
    a !== "gone" &&
    a.pid === b.pid &&
    a.host === b.host &&
    a.space === b.space &&
    a.token === b.token &&
    a.modified === b.modified
  );
}

function describeOwner(owner: Owner, host: string): string {
  if (owner.host === "" || owner.host === host) return `process ${owner.pid}`;
  return `process ${owner.pid} on host ${owner.host}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return errorCode(error) === "EPERM";
  }
}
