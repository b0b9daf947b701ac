import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fileJournal } from "../../src/index.js";

/**
 * Inline fsyncs made by the journal, each made slow on purpose. They take
 * `slowMs` of a virtual clock (the journal's `performance.now()`), not of wall
 * time, so a busy machine cannot stretch them and change where fsyncs run.
 */
const inline = vi.hoisted(() => ({ calls: 0, slowMs: 0, now: 0 }));

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  return {
    ...fs,
    // A disk of a fixed speed: instant, or slower than the inline limit
    // (1 ms) as a network file system can be. Reads still see the data (page
    // cache); what is measured here is where the fsync runs.
    fdatasyncSync() {
      inline.calls++;
      inline.now += inline.slowMs;
    },
  };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "grammy-runner-journal-sync-"));
  inline.calls = 0;
  vi.spyOn(performance, "now").mockImplementation(() => inline.now);
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const batch = (id: number) => [{ update_id: id }];

describe("fileJournal fsync", () => {
  it("runs on the event loop while the disk is fast", async () => {
    inline.slowMs = 0;
    const journal = fileJournal(dir);
    await journal.open();
    for (let id = 1; id <= 20; id++) await journal.append(batch(id), id + 1);
    await journal.close();
    expect(inline.calls).toBe(20);
  });

  it("gives appends made before the writer runs one fsync between them", async () => {
    inline.slowMs = 0;
    const journal = fileJournal(dir);
    await journal.open();
    const before = inline.calls;
    const appends = Array.from({ length: 50 }, (_, i) => journal.append(batch(i + 1), i + 2));
    await Promise.all(appends);
    expect(inline.calls - before).toBe(1);
    await journal.close();
  });

  it("moves to the thread pool when fsyncs get slow, and stays correct", async () => {
    inline.slowMs = 3;
    const journal = fileJournal(dir);
    await journal.open();
    for (let id = 1; id <= 20; id++) await journal.append(batch(id), id + 1);
    // A 3 ms fsync lifts the running average over 1 ms after four of them;
    // then two thread-pool fsyncs (0 ms on the virtual clock) bring it back
    // under 1 ms, and it tries once inline again: 4 + 5 of the 20.
    expect(inline.calls).toBe(9);
    await journal.close();
    const again = fileJournal<{ update_id: number }>(dir);
    expect(await again.open()).toMatchObject({
      pending: Array.from({ length: 20 }, (_, i) => ({ update_id: i + 1 })),
      offset: 21,
    });
    await again.close();
  });
});
