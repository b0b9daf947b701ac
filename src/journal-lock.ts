import { randomUUID } from "node:crypto";
import { readFileSync, readlinkSync, utimesSync } from "node:fs";
import {
  type FileHandle,
  link,
  open,
  readFile,
  realpath,
  rename,
  stat,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { errorCode, fsError, removeFile } from "./files.js";
import { describeError, logger } from "./log.js";

const log = logger("journal");

/** Lock files held by this process, shared by every copy of this module (ESM and CJS). */
const registry = globalThis as Record<symbol, Set<string> | undefined>;
const HELD_KEY = Symbol.for("grammy-runner.journal-locks");
const held: Set<string> = registry[HELD_KEY] ?? new Set();
registry[HELD_KEY] = held;

/** A takeover file older than this was left by a process that died taking a stale lock over. */
const STALE_TAKEOVER_MS = 10_000;
/** How often an owner touches its lock (its modification time), to show that it lives. */
const TOUCH_MS = 10_000;
/**
 * How long a lock whose owner cannot be proven dead is watched for a touch
 * before it is taken over: longer than {@link TOUCH_MS}, measured on this
 * process's own clock, since another host's clock may be off.
 */
const WATCH_MS = 15_000;
/** A live pid's lock touched within this long (on this host's clock) is in use, no watching needed. */
const FRESH_MS = 30_000;
/**
 * An owner that has not managed to touch its lock for this long (it was
 * paused, or its event loop blocked) checks that it still holds it before
 * writing, since others may have watched it go quiet and taken it over.
 */
const RECHECK_MS = 12_000;

/** This process's pid namespace: pids from another one (another container) mean nothing here. */
const PID_NAMESPACE = (() => {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return ""; // not Linux: one namespace
  }
})();

/** What a lock file says: `pid\nhost\npid namespace\ntoken\n`. */
interface Owner {
  /** 0 if the file names no pid: being written right now, or garbage. */
  pid: number;
  /** `os.hostname()`; empty in a lock that does not say. */
  host: string;
  namespace: string;
  /** Random, one per acquire: tells this lock from any other with the same pid and host. */
  token: string;
  /** The file's modification time, in milliseconds since the epoch. */
  modified: number;
}

/**
 * The lock of a journal directory: a file created with O_EXCL, so that of two
 * processes exactly one wins. It names its owner (pid, host name, pid
 * namespace and a random token), and the owner touches it every 10 s.
 *
 * Another process takes it over at once when the owner is provably gone: a
 * dead pid in the same host and pid namespace. Otherwise (a process on
 * another host, or in another container, whose pid cannot be checked from
 * here; or a live pid that stopped touching the lock, a reused pid) it
 * watches the lock for 15 s on its own clock, and takes it over only if
 * nobody touched it meanwhile. A live pid that touched its lock in the last
 * 30 s is in use: the second process fails at once.
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
  /** `performance.now()` of the last touch that found the lock ours. */
  private touched = 0;
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
    private readonly watchMs = WATCH_MS,
  ) {}

  /** Whether the lock was found taken over while held: then leave every file of the directory alone. */
  get isLost(): boolean {
    return this.lost !== undefined;
  }

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
    this.touched = performance.now();
    this.timer = setInterval(() => void this.touch(this.token), TOUCH_MS);
    this.timer.unref();
  }

  /**
   * Throws if the lock is no longer ours. Costs a comparison unless this
   * process has not touched the lock for a while (it was paused): then it
   * reads the lock, since a writer that lost it must not write on.
   */
  ensureHeld(): void {
    if (this.lost !== undefined) throw this.lost;
    if (this.token === "") throw new Error(`The journal lock ${this.path} is not held.`);
    if (performance.now() - this.touched < RECHECK_MS) return;
    let owner: Owner | "gone";
    try {
      owner = parseOwner(readFileSync(this.path, "utf8"), 0);
    } catch (error) {
      if (errorCode(error) !== "ENOENT") return; // cannot tell; the next touch will
      owner = "gone";
    }
    if (!this.isOurs(owner)) {
      this.lose(owner);
      throw this.lost;
    }
    try {
      const now = new Date();
      utimesSync(this.path, now, now);
      this.touched = performance.now();
    } catch (error) {
      log(`could not touch the lock ${this.path}: ${describeError(error)}`);
    }
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
    if (!held.delete(this.key)) return;
    try {
      // Remove only our own lock, never one another process has taken over.
      const owner = await this.read();
      if (typeof owner === "object" && owner.token === token) await unlink(this.path);
    } catch (error) {
      log(`could not remove the lock ${this.path}: ${describeError(error)}`);
    }
  }

  private async create(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const token = randomUUID();
      try {
        const file = await open(this.path, "wx", 0o600);
        try {
          await file.writeFile(`${process.pid}\n${this.host}\n${PID_NAMESPACE}\n${token}\n`);
        } finally {
          await file.close();
        }
        this.token = token;
        return;
      } catch (error) {
        if (errorCode(error) !== "EEXIST")
          throw fsError(`Cannot create the journal lock ${this.path}`, error);
      }
      const owner = await this.liveOwner();
      if (owner === "gone") continue;
      if (!("stale" in owner)) throw this.inUse(owner);
      await this.removeStale(owner.stale);
    }
    throw new Error(
      `Could not take the journal lock ${this.path}: it keeps being created by another process.`,
    );
  }

  /**
   * Removes the lock `stale`, whose owner is gone. Several processes may find
   * it stale at once, and one could then remove the fresh lock another has
   * just made; so only the one that creates the takeover file goes on, and
   * it checks under it that the lock is still the very one it found stale.
   */
  private async removeStale(stale: Owner): Promise<void> {
    const guardPath = `${this.path}.takeover`;
    const token = randomUUID();
    try {
      await writeFile(guardPath, token, { flag: "wx", mode: 0o600 });
    } catch (error) {
      if (errorCode(error) !== "EEXIST")
        throw fsError(`Cannot create the journal lock ${guardPath}`, error);
      await this.clearStaleGuard(guardPath);
      return;
    }
    try {
      if (sameLock(await this.read(), stale)) {
        log(`taking over the stale lock ${this.path}`);
        await unlink(this.path).catch((error: unknown) => {
          if (errorCode(error) !== "ENOENT")
            throw fsError(`Cannot remove the stale journal lock ${this.path}`, error);
        });
      }
    } finally {
      // Ours only: after a pause, another process may have cleared it and made its own.
      const now = await readFile(guardPath, "utf8").catch(() => "");
      if (now === token) await removeFile(guardPath, log);
    }
  }

  /**
   * A takeover file is there: someone is taking the lock over right now
   * (then fail), or died doing so (its file is old: clear it). Cleared by
   * renaming it to a name of our own, which only one process can do, then
   * checking that it is the old one and not a fresh one made meanwhile.
   */
  private async clearStaleGuard(guardPath: string): Promise<void> {
    const busy = this.inUse("another process, which is taking the stale lock over right now");
    const seen = await readGuard(guardPath);
    if (seen === undefined) return; // gone: try again
    if (Date.now() - seen.modified <= STALE_TAKEOVER_MS) throw busy;
    const mine = `${guardPath}.${randomUUID()}`;
    try {
      await rename(guardPath, mine);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return; // cleared by another process: try again
      throw fsError(`Cannot remove the stale journal lock ${guardPath}`, error);
    }
    const moved = await readGuard(mine);
    if (moved !== undefined && moved.text === seen.text && moved.modified === seen.modified) {
      log(`removed the takeover file ${guardPath} of a process that died taking the lock over`);
      await removeFile(mine, log);
      return;
    }
    // A fresh one, made after we looked: put it back (unless yet another is there) and give way.
    await link(mine, guardPath).catch(noop);
    await removeFile(mine, log);
    throw busy;
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
      // Our own pid, yet not held by us: a previous incarnation with the same
      // pid (pid 1 in a restarted container) crashed.
      if (owner.pid === process.pid || !isAlive(owner.pid)) return { stale: owner };
      if (Date.now() - owner.modified <= FRESH_MS) return owner;
    }
    // Another host or container (its pid means nothing here), a live pid that
    // stopped touching its lock, or a lock being written right now: an owner
    // that lives touches it within the watch.
    log(`watching the lock ${this.path} for ${this.watchMs} ms: is its owner alive?`);
    const until = performance.now() + this.watchMs;
    while (performance.now() < until) {
      await new Promise((wake) => setTimeout(wake, Math.min(1_000, this.watchMs / 5)));
      const now = await this.read();
      if (now === "gone") return "gone";
      if (!sameLock(now, owner)) return now;
    }
    return { stale: owner };
  }

  /** Whether this process can tell from the pid whether the owner lives: same host, same pid namespace. */
  private checksPid(owner: Owner): boolean {
    return owner.host === this.host && owner.namespace === PID_NAMESPACE;
  }

  /** What the lock file says, `"gone"` if there is none. */
  private async read(): Promise<Owner | "gone"> {
    let file: FileHandle;
    try {
      file = await open(this.path, "r");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return "gone";
      throw fsError(`Cannot read the journal lock ${this.path}`, error);
    }
    try {
      // One handle: the text and the time of the same file, even if it is replaced meanwhile.
      const modified = (await file.stat()).mtimeMs;
      return parseOwner(await file.readFile("utf8"), modified);
    } catch (error) {
      throw fsError(`Cannot read the journal lock ${this.path}`, error);
    } finally {
      await file.close();
    }
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
      `The journal lock ${this.path} now belongs to ${by}: this process did not touch it for ${Math.round((performance.now() - this.touched) / 1000)} s (was it paused?), and another process took it over.`,
    );
    this.onLost(this.lost);
  }

  /** Touches the lock for the acquire that `token` names; reports it lost if it is not ours. */
  private async touch(token: string): Promise<void> {
    const started = performance.now();
    try {
      const owner = await this.read();
      // Released (and maybe acquired again) meanwhile: not this touch's business.
      if (this.token !== token || this.lost !== undefined) return;
      if (!this.isOurs(owner)) {
        this.lose(owner);
        return;
      }
      const now = new Date();
      await utimes(this.path, now, now);
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

async function readGuard(path: string): Promise<{ text: string; modified: number } | undefined> {
  try {
    const modified = (await stat(path)).mtimeMs;
    return { text: await readFile(path, "utf8"), modified };
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw fsError(`Cannot read the journal lock ${path}`, error);
  }
}

function noop(): void {}

function parseOwner(text: string, modified: number): Owner {
  const [pidLine = "", host = "", namespace = "", token = ""] = text.split("\n");
  const number = Number(pidLine.trim());
  const pid = pidLine.trim() !== "" && Number.isSafeInteger(number) && number > 0 ? number : 0;
  return { pid, host: host.trim(), namespace: namespace.trim(), token: token.trim(), modified };
}

/** Whether two reads found the very same lock file contents and modification time. */
function sameLock(a: Owner | "gone", b: Owner): boolean {
  return (
    a !== "gone" &&
    a.pid === b.pid &&
    a.host === b.host &&
    a.namespace === b.namespace &&
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
