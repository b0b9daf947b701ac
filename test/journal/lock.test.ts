import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fileJournal } from "../../src/index.js";
import { JournalLock } from "../../src/journal/lock.js";
import { until } from "../helpers/async.js";
import { abandonJournal, expectOwnLock, lockText } from "../helpers/lock.js";

const TAKER = fileURLToPath(new URL("../fixtures/.build/lock-taker.mjs", import.meta.url));

/**
 * Short enough for tests, long enough for a touch from a timer set at a
 * quarter of it to land within it while CI runs three suites on two cores.
 */
const WATCH_MS = 1_600;

let dir: string;
let path: string;
const locks: JournalLock[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "grammy-runner-lock-"));
  path = join(dir, "journal.lock");
});
afterEach(async () => {
  vi.useRealTimers();
  for (const lock of locks.splice(0)) await lock.release();
  rmSync(dir, { recursive: true, force: true });
});

function lockIn(onLost: (error: Error) => void = () => {}): JournalLock {
  const lock = new JournalLock(dir, path, onLost, WATCH_MS);
  locks.push(lock);
  return lock;
}

/** A lock file as another process wrote it, last touched `ageMs` ago. */
function foreignLock(text: string, ageMs = 0): void {
  writeFileSync(path, text);
  const touched = new Date(Date.now() - ageMs);
  utimesSync(path, touched, touched);
}

/** Touches the lock a little later, as a live owner elsewhere would. */
function touchSoon(): void {
  setTimeout(() => {
    const later = new Date(Date.now() + 1_000);
    utimesSync(path, later, later);
  }, WATCH_MS / 4);
}

interface Taken {
  acquired: boolean;
  error?: string;
  heldAtEnd?: boolean;
}

/**
 * Runs test/fixtures/lock-taker.mts in `count` processes at once: each tries
 * to take the lock; a winner holds it until every one has tried.
 */
async function raceInChildren(count: number): Promise<Taken[]> {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [TAKER, dir, String(WATCH_MS)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    const tried = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve();
      });
    });
    const exited = new Promise<Taken>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", () => {
        try {
          const lines = out.trim().split("\n");
          resolve(Object.assign({}, ...lines.map((line) => JSON.parse(line) as Partial<Taken>)));
        } catch {
          reject(new Error(`lock-taker printed ${JSON.stringify(out)}`));
        }
      });
    });
    return { child, tried, exited };
  });
  await Promise.all(children.map((c) => c.tried));
  for (const { child } of children) child.stdin.end();
  return Promise.all(children.map((c) => c.exited));
}

describe("JournalLock", () => {
  it("lets exactly one of three processes racing for a stale lock take it", async () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number;
    // A dead pid of this host (taken at once), and an untouched one of another host (watched).
    for (const stale of [lockText(dead), lockText(dead, { host: "gone-host" })]) {
      for (let round = 0; round < 2; round++) {
        foreignLock(stale, 60_000);
        const results = await raceInChildren(3);
        expect(results.filter((r) => r.acquired)).toEqual([{ acquired: true, heldAtEnd: true }]);
        for (const result of results.filter((r) => !r.acquired))
          expect(result.error).toMatch(/in use by process \d+ \(lock/);
        rmSync(path, { force: true });
      }
    }
  }, 30_000);

  it("refuses a lock from another host whose owner touches it, naming process and host", async () => {
    // Another container on a shared volume: its pid may even equal ours.
    foreignLock(`${process.pid}\nother-container\npid:[1]\ntoken-a\n`);
    touchSoon();
    await expect(lockIn().acquire()).rejects.toThrow(
      `in use by process ${process.pid} on host other-container (lock ${path})`,
    );
    expect(readFileSync(path, "utf8")).toBe(`${process.pid}\nother-container\npid:[1]\ntoken-a\n`);
  });

  it("takes over a lock from another host nobody touches while it watches, however fresh it looks", async () => {
    // Touched "just now" by its clock: it may have crashed a moment ago, or its clock is ahead.
    foreignLock(`1\nother-container\npid:[1]\ntoken-a\n`, -5_000);
    const started = performance.now();
    await lockIn().acquire();
    expect(performance.now() - started).toBeGreaterThanOrEqual(WATCH_MS - 50);
    expectOwnLock(path);
    // Nothing of the takeover is left behind.
    expect(readdirSync(dir)).toEqual(["journal.lock"]);
  });

  it("checks the pid only within its own host and pid namespace", async () => {
    // Same host name, another pid namespace (--network host): our pid is somebody else's there.
    foreignLock(`${process.pid}\n${hostname()}\npid:[1]\ntoken-a\n`);
    touchSoon();
    await expect(lockIn().acquire()).rejects.toThrow(`in use by process ${process.pid} (lock`);
    // Without a touch it is a previous incarnation that crashed.
    foreignLock(`${process.pid}\n${hostname()}\npid:[1]\ntoken-a\n`);
    await lockIn().acquire();
    expectOwnLock(path);
  });

  it("tells a crashed earlier process with our pid from another worker thread of ours", async () => {
    // Touched since this process started: another thread of it holds the lock.
    foreignLock(lockText(process.pid, { token: "other-thread" }));
    const started = performance.now();
    await expect(lockIn().acquire()).rejects.toThrow(`in use by process ${process.pid} (lock`);
    // Older than this process: a previous one with the same pid (pid 1 in a container) crashed.
    foreignLock(lockText(process.pid, { token: "earlier-process" }), 3_600_000);
    await lockIn().acquire();
    expect(performance.now() - started).toBeLessThan(WATCH_MS);
    expectOwnLock(path);
  });

  it("sees at its next write that its lock file was replaced, lease or not", async () => {
    const lock = lockIn();
    await lock.acquire();
    lock.ensureHeld();
    // A takeover that could not put a live lock back: another file in its place.
    writeFileSync(`${path}.new`, lockText(999, { host: "other-host", token: "token-b" }));
    renameSync(`${path}.new`, path);
    expect(() => lock.ensureHeld()).toThrow(`The journal lock ${path} now belongs to process 999`);
  });

  it("writes its log and spare into new files, not ones a lost owner may hold open", async () => {
    // Files a paused, lost owner left and still holds open.
    writeFileSync(join(dir, "journal.log.tmp"), "");
    writeFileSync(join(dir, "journal.spare"), "");
    const stale = [
      await open(join(dir, "journal.log.tmp"), "r+"),
      await open(join(dir, "journal.spare"), "r+"),
    ];
    const journal = fileJournal<{ update_id: number }>(dir, { compactBytes: 4096 });
    await journal.open();
    await journal.append([{ update_id: 1 }], 2);
    await until(() => existsSync(join(dir, "journal.spare")));
    // Let it compact into the spare, then append again.
    await journal.append(
      Array.from({ length: 40 }, (_, i) => ({ update_id: 2 + i, text: "x".repeat(200) })),
      42,
    );
    // The lost owner wakes up and writes on through its old handles.
    for (const file of stale) {
      await file.write(Buffer.alloc(64 * 1024, "!"), 0, 64 * 1024, 0);
      await file.close();
    }
    await journal.flush();
    await abandonJournal(journal);
    const held = (globalThis as Record<symbol, Set<string> | undefined>)[
      Symbol.for("grammy-runner.journal-locks")
    ];
    held?.clear();
    utimesSync(path, new Date(0), new Date(0));
    const next = fileJournal<{ update_id: number }>(dir);
    const recovery = await next.open();
    expect(recovery.pending.map((u) => u.update_id)).toEqual(
      Array.from({ length: 41 }, (_, i) => 1 + i),
    );
    await next.close();
  });

  it("sees at its next write that its lock was removed by hand and made again", async () => {
    const lock = lockIn();
    await lock.acquire();
    // `rm journal.lock`, then another process starts: on ext4 the new file
    // could get the old inode number, were the old one not still open.
    rmSync(path);
    writeFileSync(path, lockText(999, { host: "other-host", token: "token-b" }));
    expect(() => lock.ensureHeld()).toThrow(`The journal lock ${path} now belongs to process 999`);
  });

  it("stops a writer past its lease that cannot read its lock", async () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const lock = lockIn();
    await lock.acquire();
    vi.advanceTimersByTime(13_000);
    rmSync(path);
    mkdirSync(path); // unreadable as a file
    expect(() => lock.ensureHeld()).toThrow(`Cannot check the journal lock ${path}`);
    expect(lock.stillHeld()).toBe(false);
    rmSync(path, { recursive: true });
  });

  it("refuses at once a live pid of this namespace that touched its lock lately", async () => {
    // The parent of this test process is alive, but holds no journal.
    foreignLock(lockText(process.ppid), 5_000);
    const started = performance.now();
    await expect(lockIn().acquire()).rejects.toThrow(`in use by process ${process.ppid} (lock`);
    expect(performance.now() - started).toBeLessThan(WATCH_MS);
  });

  it("watches, then takes over, a live pid's lock untouched for 30 s (a reused pid)", async () => {
    foreignLock(lockText(process.ppid), 31_000);
    await lockIn().acquire();
    expectOwnLock(path);
  });

  it("watches a lock that does not say where its pid lives, live pid or not", async () => {
    foreignLock(`${process.ppid}\n`);
    touchSoon();
    await expect(lockIn().acquire()).rejects.toThrow(`in use by process ${process.ppid} (lock`);
    foreignLock(`${process.ppid}\n`);
    await lockIn().acquire();
    expectOwnLock(path);
  });

  it("waits for an empty lock: one being written is in use, one left empty is taken over", async () => {
    foreignLock("");
    setTimeout(() => writeFileSync(path, lockText(process.ppid)), WATCH_MS / 4);
    await expect(lockIn().acquire()).rejects.toThrow(`in use by process ${process.ppid} (lock`);
    foreignLock("");
    await lockIn().acquire();
    expectOwnLock(path);
  });

  it("touches the lock every 10 s while it holds it, and stops after release", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const lock = lockIn();
    await lock.acquire();
    const old = new Date(Date.now() - 20_000);
    utimesSync(path, old, old);
    vi.advanceTimersByTime(10_000);
    await until(() => Date.now() - statSync(path).mtimeMs < 5_000);
    await lock.release();
    expect(vi.getTimerCount()).toBe(0);
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, lockText(1));
    utimesSync(path, old, old);
    vi.advanceTimersByTime(30_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Date.now() - statSync(path).mtimeMs).toBeGreaterThan(15_000);
  });

  it("reports the lock lost once another process has taken it, and leaves that one's lock", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const lost: Error[] = [];
    const lock = lockIn((error) => lost.push(error));
    await lock.acquire();
    // As if this process had been paused and another host took the lock over.
    writeFileSync(path, "999\nother-host\npid:[1]\ntoken-b\n");
    vi.advanceTimersByTime(10_000);
    await until(() => lost.length > 0);
    expect(lost[0].message).toContain(
      `The journal lock ${path} now belongs to process 999 on host other-host`,
    );
    expect(() => lock.ensureHeld()).toThrow(lost[0].message);
    vi.advanceTimersByTime(30_000);
    await lock.release();
    expect(lost).toHaveLength(1);
    expect(readFileSync(path, "utf8")).toBe("999\nother-host\npid:[1]\ntoken-b\n");
  });

  it("checks the lock before a write once it has not touched it for a while (a pause)", async () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const lost: Error[] = [];
    const lock = lockIn((error) => lost.push(error));
    await lock.acquire();
    // Right after a touch: only a stat, which finds the same file.
    lock.ensureHeld();
    vi.advanceTimersByTime(13_000);
    const old = new Date(Date.now() - 20_000);
    utimesSync(path, old, old);
    lock.ensureHeld(); // still ours: touched
    expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(5_000);
    vi.advanceTimersByTime(13_000);
    writeFileSync(path, "999\nother-host\npid:[1]\ntoken-b\n");
    expect(() => lock.ensureHeld()).toThrow(`The journal lock ${path} now belongs to process 999`);
    expect(lost).toHaveLength(1);
  });

  it("makes a journal paused past its lease check the lock before it writes again", async () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const journal = fileJournal<{ update_id: number }>(dir);
    await journal.open();
    await journal.append([{ update_id: 1 }], 2);
    // Paused for 13 s, with no touch in between; meanwhile another host took the lock.
    vi.advanceTimersByTime(13_000);
    writeFileSync(path, lockText(999, { host: "other-host", token: "token-b" }));
    await expect(journal.append([{ update_id: 2 }], 3)).rejects.toThrow(
      `The journal lock ${path} now belongs to process 999 on host other-host`,
    );
    expect(readFileSync(join(dir, "journal.log"), "utf8")).not.toContain('"update_id":2');
    await expect(journal.close()).rejects.toThrow("now belongs to process 999");
    expect(readFileSync(path, "utf8")).toBe(
      lockText(999, { host: "other-host", token: "token-b" }),
    );
  });

  it("makes the journal refuse appends once its lock is lost, and leave the directory's files", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const journal = fileJournal<{ update_id: number }>(dir, { compactBytes: 4096 });
    await journal.open();
    await journal.append([{ update_id: 1 }], 2);
    await until(() => existsSync(join(dir, "journal.spare")));
    rmSync(path);
    vi.advanceTimersByTime(10_000);
    let refusal = "";
    await until(() => {
      journal.flush().catch((error: Error) => {
        refusal = error.message;
      });
      return refusal !== "";
    });
    expect(refusal).toContain(`The journal lock ${path} now belongs to nobody (it was removed)`);
    await expect(journal.append([{ update_id: 2 }], 3)).rejects.toThrow("now belongs to nobody");
    await expect(journal.close()).rejects.toThrow("now belongs to nobody");
    // The new owner's files, for all this process knows.
    expect(existsSync(join(dir, "journal.spare"))).toBe(true);
  });
});
