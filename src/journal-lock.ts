import { type FileHandle, open, readFile, realpath, stat, unlink, utimes } from "node:fs/promises";
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
/** How often an owner touches its lock's modification time, to show that it lives. */
const LEASE_REFRESH_MS = 10_000;
/**
 * A lock left untouched this long is stale even if its pid is alive, or is
 * one that cannot be checked: a process on another host, or in another
 * container (another pid namespace), where our pid numbers mean nothing.
 */
const LEASE_STALE_MS = 30_000;

/** Who holds a lock, as its file says: `pid\nhost\n`. */
interface Owner {
  pid: number;
  /** `os.hostname()` of the owner; empty in a lock written before hosts were recorded. */
  host: string;
  /** Milliseconds since the owner last touched the lock. */
  age: number;
}

/**
 * The lock of a journal directory: a file created with O_EXCL, so that of two
 * processes exactly one wins, holding the owner's pid and host name. The
 * owner touches it every 10 s. A lock is stale, and taken over, when its pid
 * is dead on this host, or when it has not been touched for 30 s: that also
 * covers a process on another host or in another container sharing the
 * directory, whose pid cannot be checked from here (a container's bot is
 * often pid 1, just like ours). A container restarted after a crash keeps its
 * host name, so its lock is taken over at once.
 *
 * @example
 * ```ts
 * const lock = new JournalLock(dir, join(dir, "journal.lock"), (error) => stopWriting(error));
 * await lock.acquire(); // rejects, naming the owner, while another process holds it
 * try { ... } finally { await lock.release(); }
 * ```
 */
export class JournalLock {
  private readonly host = hostname();
  /** The lock's real path: two spellings of one directory (symlinks) must not both own it. */
  private key = "";
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  /**
   * @param dir The journal directory, named in errors
   * @param path The lock file
   * @param onLost Called if, while held, the lock is removed or taken over
   */
  constructor(
    private readonly dir: string,
    readonly path: string,
    private readonly onLost: (error: Error) => void,
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
    this.timer = setInterval(() => void this.refresh(), LEASE_REFRESH_MS);
    this.timer.unref();
  }

  /** Gives the lock up: removes the file if it is still ours. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!held.delete(this.key)) return;
    try {
      // Remove only our own lock, never one another process has taken over.
      if (this.isOurs(await this.owner())) await unlink(this.path);
    } catch (error) {
      log(`could not remove the lock ${this.path}: ${describeError(error)}`);
    }
  }

  private async create(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const file = await open(this.path, "wx", 0o600);
        try {
          await file.writeFile(`${process.pid}\n${this.host}\n`);
        } finally {
          await file.close();
        }
        return;
      } catch (error) {
        if (errorCode(error) !== "EEXIST")
          throw fsError(`Cannot create the journal lock ${this.path}`, error);
      }
      const owner = await this.liveOwner();
      if (owner === "gone") continue;
      if (owner !== "stale") throw this.inUse(describeOwner(owner, this.host));
      await this.removeStale();
    }
    throw new Error(
      `Could not take the journal lock ${this.path}: it keeps being created by another process.`,
    );
  }

  /**
   * Removes a lock whose owner is gone. Several processes may find it stale
   * at once, and one could then remove the fresh lock another has just
   * made; so only the one that creates the takeover file goes on, and it
   * checks again under it that the lock is still the stale one.
   */
  private async removeStale(): Promise<void> {
    const guardPath = `${this.path}.takeover`;
    let guard: FileHandle;
    try {
      guard = await open(guardPath, "wx", 0o600);
    } catch (error) {
      if (errorCode(error) !== "EEXIST")
        throw fsError(`Cannot create the journal lock ${guardPath}`, error);
      // One left by a process that died while taking over goes after a while.
      const age =
        Date.now() - (await stat(guardPath).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > STALE_TAKEOVER_MS) {
        await removeFile(guardPath, log);
        return;
      }
      throw this.inUse("another process, which is taking the stale lock over right now");
    }
    try {
      if ((await this.liveOwner()) === "stale") {
        log(`taking over the stale lock ${this.path}`);
        await unlink(this.path).catch((error: unknown) => {
          if (errorCode(error) !== "ENOENT")
            throw fsError(`Cannot remove the stale journal lock ${this.path}`, error);
        });
      }
    } finally {
      await guard.close();
      await removeFile(guardPath, log);
    }
  }

  private inUse(owner: string): Error {
    return new Error(
      `The journal in ${this.dir} is in use by ${owner} (lock ${this.path}): only one bot process may use a journal directory. Stop that process, or give this one another directory.`,
    );
  }

  /** The lock's owner if it may be alive, `"stale"` if it is gone, `"gone"` if the file is. */
  private async liveOwner(): Promise<Owner | "stale" | "gone"> {
    const owner = await this.owner();
    if (owner === "gone" || owner === "unreadable") return owner === "gone" ? "gone" : "stale";
    if (owner.host !== "" && owner.age > LEASE_STALE_MS) return "stale";
    // Another host or container: its pid means nothing here; only the age tells.
    if (owner.host !== "" && owner.host !== this.host) return owner;
    // Our own pid, yet not held by us: a previous incarnation with the same
    // pid (pid 1 in a restarted container) crashed.
    if (owner.pid === process.pid) return "stale";
    return isAlive(owner.pid) ? owner : "stale";
  }

  /** What the lock file says, `"gone"` if there is none, `"unreadable"` if it names no pid. */
  private async owner(): Promise<Owner | "gone" | "unreadable"> {
    for (let look = 0; ; look++) {
      let text: string;
      let modified: number;
      try {
        text = await readFile(this.path, "utf8");
        modified = (await stat(this.path)).mtimeMs;
      } catch (error) {
        if (errorCode(error) === "ENOENT") return "gone";
        throw fsError(`Cannot read the journal lock ${this.path}`, error);
      }
      // An empty lock may be one being created right now: look again shortly.
      if (text.trim() === "" && look < 3) {
        await new Promise((wake) => setTimeout(wake, 50));
        continue;
      }
      const [pidLine = "", host = ""] = text.split("\n");
      const pid = Number(pidLine.trim());
      if (!Number.isSafeInteger(pid) || pid <= 0) return "unreadable";
      return { pid, host: host.trim(), age: Date.now() - modified };
    }
  }

  private isOurs(owner: Owner | "gone" | "unreadable"): boolean {
    return typeof owner === "object" && owner.pid === process.pid && owner.host === this.host;
  }

  /** Touches the lock; reports it lost if another process has taken it. */
  private async refresh(): Promise<void> {
    if (this.refreshing || this.timer === undefined) return;
    this.refreshing = true;
    try {
      const owner = await this.owner();
      if (this.timer === undefined) return;
      if (!this.isOurs(owner)) {
        clearInterval(this.timer);
        this.timer = undefined;
        const by =
          typeof owner === "object" ? describeOwner(owner, this.host) : "nobody (it was removed)";
        this.onLost(
          new Error(
            `The journal lock ${this.path} now belongs to ${by}: this process did not touch it for over ${LEASE_STALE_MS / 1000} s (was it paused?), or it was removed.`,
          ),
        );
        return;
      }
      const now = new Date();
      await utimes(this.path, now, now);
    } catch (error) {
      // A missed touch only matters after several in a row; the next one may work.
      log(`could not touch the lock ${this.path}: ${describeError(error)}`);
    } finally {
      this.refreshing = false;
    }
  }
}

function describeOwner(owner: Owner, host: string): string {
  if (owner.host === "" || owner.host === host) return `process ${owner.pid}`;
  const seconds = Math.round(owner.age / 1000);
  return `process ${owner.pid} on host ${owner.host}, which touched the lock ${seconds} s ago (a lock from another host or container is taken over once it is ${LEASE_STALE_MS / 1000} s old)`;
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
