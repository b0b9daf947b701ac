import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import * as fsPromises from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { fileJournal } from "../src/index.js";
import { until } from "./helpers/async.js";

// Every open() the journal makes, passed through to the real one.
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  return { ...actual, open: vi.fn(actual.open) };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "grammy-runner-journal-files-"));
  vi.mocked(fsPromises.open).mockClear();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const updates = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ update_id: from + i, text: "x".repeat(100) }));

it("writes only into files it has just created, never into one reopened by name", async () => {
  // A process paused between its lock check and reopening a file by name
  // could, once another process had taken the directory over, write into
  // the new owner's file of that name.
  const journal = fileJournal(dir, { compactBytes: 4_096 });
  await journal.open();
  const log = join(dir, "journal.log");
  await until(() => existsSync(join(dir, "journal.spare")));
  let id = 1;
  // Two compactions: the first one into the spare prepared at open.
  for (let compactions = 0; compactions < 2; id += 10) {
    const before = statSync(log).ino;
    await journal.append(updates(id, 10), id + 10);
    for (let settled = id; settled < id + 10; settled++) journal.settle(settled);
    await journal.flush();
    if (statSync(log).ino !== before) compactions++;
  }
  await journal.close();
  const opens = vi.mocked(fsPromises.open).mock.calls.map(([path, flags]) => [String(path), flags]);
  // Read-only opens aside (the directory, for its fsync; the lock, to read it).
  const writable = opens.filter(([, flags]) => flags !== "r");
  // The lock, the log at open, two spares, the log at close, one more spare at least.
  expect(writable.length).toBeGreaterThanOrEqual(5);
  expect(writable.filter(([, flags]) => flags !== "wx")).toEqual([]);
});
