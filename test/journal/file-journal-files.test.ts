import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import * as fsPromises from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { fileJournal } from "../../src/index.js";
import { type Gate, gate, until } from "../helpers/async.js";
import { lockText } from "../helpers/lock.js";

/** While set, creating `journal.spare` waits for this gate. */
let spareGate: Gate | undefined;

// Every open() the journal makes, passed through to the real one.
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const open: typeof actual.open = async (path, flags, mode) => {
    if (String(path).endsWith("journal.spare")) await spareGate?.promise;
    return actual.open(path, flags, mode);
  };
  return { ...actual, open: vi.fn(open) };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "grammy-runner-journal-files-"));
  vi.mocked(fsPromises.open).mockClear();
  spareGate = undefined;
});
afterEach(() => {
  spareGate?.open();
  rmSync(dir, { recursive: true, force: true });
});

const updates = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ update_id: from + i, text: "x".repeat(100) }));

/** The files of this test's directory named `name` that this process has open. */
function openFiles(name: string): string[] {
  const path = join(realpathSync(dir), name);
  return readdirSync("/proc/self/fd")
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return ""; // closed meanwhile
      }
    })
    .filter((target) => target.startsWith(path));
}

it("writes only into files it has just created, never into one reopened by name", async () => {
  // A process paused between its lock check and reopening a file by name
  // could, once another process had taken the directory over, write into
  // the new owner's file of that name.
  const journal = fileJournal(dir, { compactBytes: 4_096 });
  await journal.open();
  const log = join(dir, "journal.log");
  const spare = join(dir, "journal.spare");
  await until(() => existsSync(spare));
  const spareInode = statSync(spare).ino;
  let id = 1;
  let compactions = 0;
  while (compactions < 2) {
    const before = statSync(log).ino;
    await journal.append(updates(id, 10), id + 10);
    for (let settled = id; settled < id + 10; settled++) journal.settle(settled);
    // The compaction runs after the append resolves; the flush waits for it.
    await journal.flush();
    if (statSync(log).ino !== before) compactions++;
    // The first compaction wrote into the spare prepared at open.
    if (compactions === 1) expect(statSync(log).ino).toBe(spareInode);
    id += 10;
  }
  await journal.close();
  const opens = vi.mocked(fsPromises.open).mock.calls.map(([path, flags]) => [String(path), flags]);
  // Read-only opens aside (the directory, for its fsync; the lock, to read it).
  const writable = opens.filter(([, flags]) => flags !== "r");
  // The lock, the log at open, three spares, the log at close.
  expect(writable.length).toBeGreaterThanOrEqual(6);
  expect(writable.filter(([, flags]) => flags !== "wx")).toEqual([]);
});

it("closes the spare when the lock is lost while a compaction waits for it", async () => {
  spareGate = gate();
  const journal = fileJournal(dir, { compactBytes: 4_096 });
  await journal.open();
  const size = () => (journal as unknown as { size: number }).size;
  let id = 1;
  // Past compactBytes: the round that gets there compacts, and waits for the spare.
  while (size() <= 4_096) {
    await journal.append(updates(id, 10), id + 10);
    for (let settled = id; settled < id + 10; settled++) journal.settle(settled);
    id += 10;
  }
  // Another process takes the directory over; then the spare is ready.
  const lock = join(dir, "journal.lock");
  writeFileSync(`${lock}.new`, lockText(process.ppid, { token: "token-b" }));
  renameSync(`${lock}.new`, lock);
  spareGate.open();
  await expect(journal.close()).rejects.toThrow(/now belongs to process/);
  expect(openFiles("journal.spare")).toEqual([]);
  expect(openFiles("journal.log")).toEqual([]);
});
