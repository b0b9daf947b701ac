import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fileJournal } from "../src/index.js";
import { JournalLock } from "../src/journal-lock.js";
import { until } from "./helpers/async.js";

let dir: string;
let path: string;
const locks: JournalLock[] = [];
const ownLock = `${process.pid}\n${hostname()}\n`;

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
  const lock = new JournalLock(dir, path, onLost);
  locks.push(lock);
  return lock;
}

/** A lock file as another process wrote it, last touched `ageMs` ago. */
function foreignLock(text: string, ageMs: number): void {
  writeFileSync(path, text);
  const touched = new Date(Date.now() - ageMs);
  utimesSync(path, touched, touched);
}

describe("JournalLock", () => {
  it("refuses a lock from another host touched in the last 30 s, naming process and host", async () => {
    // Another container on a shared volume: its pid may even equal ours.
    foreignLock(`${process.pid}\nother-container\n`, 5_000);
    await expect(lockIn().acquire()).rejects.toThrow(
      `in use by process ${process.pid} on host other-container, which touched the lock 5 s ago (a lock from another host or container is taken over once it is 30 s old) (lock ${path})`,
    );
    expect(readFileSync(path, "utf8")).toBe(`${process.pid}\nother-container\n`);
  });

  it("takes over a lock from another host untouched for over 30 s", async () => {
    foreignLock(`1\nother-container\n`, 31_000);
    await lockIn().acquire();
    expect(readFileSync(path, "utf8")).toBe(ownLock);
    expect(existsSync(`${path}.takeover`)).toBe(false);
  });

  it("takes over a lock of this host whose live pid stopped touching it (a reused pid)", async () => {
    // The parent of this test process is alive, but holds no journal.
    foreignLock(`${process.ppid}\n${hostname()}\n`, 5_000);
    await expect(lockIn().acquire()).rejects.toThrow(`in use by process ${process.ppid} (lock`);
    foreignLock(`${process.ppid}\n${hostname()}\n`, 31_000);
    await lockIn().acquire();
    expect(readFileSync(path, "utf8")).toBe(ownLock);
  });

  it("respects a live pid in a lock without a host (older versions) however old it is", async () => {
    foreignLock(`${process.ppid}\n`, 3_600_000);
    await expect(lockIn().acquire()).rejects.toThrow(`in use by process ${process.ppid} (lock`);
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
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, ownLock);
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
    writeFileSync(path, "999\nother-host\n");
    vi.advanceTimersByTime(10_000);
    await until(() => lost.length > 0);
    expect(lost[0].message).toContain(
      `The journal lock ${path} now belongs to process 999 on host other-host`,
    );
    vi.advanceTimersByTime(30_000);
    await lock.release();
    expect(lost).toHaveLength(1);
    expect(readFileSync(path, "utf8")).toBe("999\nother-host\n");
  });

  it("makes the journal refuse appends once its lock is lost", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const journal = fileJournal<{ update_id: number }>(dir);
    await journal.open();
    await journal.append([{ update_id: 1 }], 2);
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
    await expect(journal.append([{ update_id: 2 }], 3)).rejects.toThrow(
      `The journal lock ${path} now belongs to nobody (it was removed)`,
    );
    await expect(journal.close()).rejects.toThrow("now belongs to nobody");
  });
});
