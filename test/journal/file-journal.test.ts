import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileJournal, isReplayed, run, type UpdateJournal } from "../../src/index.js";
import { until } from "../helpers/async.js";
import { abandonJournal, expectOwnLock, lockText } from "../helpers/lock.js";

interface U {
  update_id: number;
  text?: string;
}

let dir: string;
const opened: UpdateJournal<U>[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "grammy-runner-journal-"));
});
afterEach(async () => {
  for (const journal of opened.splice(0)) await journal.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

function journalIn(path = dir, options?: Parameters<typeof fileJournal>[1]): UpdateJournal<U> {
  const journal = fileJournal<U>(path, options);
  opened.push(journal);
  return journal;
}

const updates = (from: number, count: number): U[] =>
  Array.from({ length: count }, (_, i) => ({ update_id: from + i, text: `msg ${from + i}` }));

/** As if the process died: see abandonJournal(). */
async function crash(): Promise<void> {
  for (const journal of opened.splice(0)) await abandonJournal(journal);
}

/** The log's records: the file without its preallocated zeros. */
function logText(path = join(dir, "journal.log")): string {
  return readFileSync(path, "utf8").replace(/\0+$/, "");
}

/** Overwrites the log's records by `text`, keeping the file's size (zeros after it), as a disk would. */
function overwriteLog(text: string, path = join(dir, "journal.log")): void {
  const bytes = Buffer.from(text);
  const size = Math.max(statSync(path).size, bytes.length);
  writeFileSync(path, Buffer.concat([bytes, Buffer.alloc(size - bytes.length)]));
}

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return child.pid as number;
}

describe("fileJournal", () => {
  it("starts empty, then returns the unsettled updates of a previous run in order", async () => {
    const first = journalIn();
    expect(await first.open()).toMatchObject({ pending: [], offset: undefined });
    await first.append(updates(10, 3), 13);
    await first.append(updates(13, 3), 16);
    for (const id of [10, 12, 14]) first.settle(id);
    await first.flush();
    // Abandoned without close(): as after a crash (the lock is taken over since it is ours).
    await crash();
    const second = journalIn();
    const recovery = await expectOpenAfterCrash(second);
    expect(recovery.offset).toBe(16);
    expect(recovery.pending.map((u) => u.update_id)).toEqual([11, 13, 15]);
    expect(recovery.pending[0]).toEqual({ update_id: 11, text: "msg 11" });
  });

  it("leaves nothing to replay after everything settled and a clean close", async () => {
    const journal = journalIn();
    await journal.open();
    await journal.append(updates(1, 5), 6);
    for (let id = 1; id <= 5; id++) journal.settle(id);
    await journal.close();
    const again = journalIn();
    expect(await again.open()).toMatchObject({ pending: [], offset: 6 });
    // Just the header is left, without preallocated space.
    expect(readFileSync(join(dir, "journal.log"), "utf8").split("\n").length).toBe(2);
  });

  it("makes a second close() and a flush() during close wait for the close to finish", async () => {
    const journal = journalIn();
    await journal.open();
    await journal.append(updates(1, 2), 3);
    journal.settle(1);
    const first = journal.close();
    const closed = () => {
      // Compacted and unlocked: only update 2 is left, and the lock is gone.
      expect(logText().split("\n")).toHaveLength(3);
      expect(existsSync(join(dir, "journal.lock"))).toBe(false);
    };
    await journal.close();
    closed();
    await first;
    await journal.open();
    const again = journal.close();
    await journal.flush();
    closed();
    await again;
  });

  it("closes once open when close() is called while open() is still running", async () => {
    const journal = journalIn();
    const opening = journal.open();
    const closing = journal.close();
    await expect(opening).resolves.toMatchObject({ pending: [], offset: undefined });
    await expect(journal.open()).rejects.toThrow("is closing; wait for close()");
    await closing;
    expect(existsSync(join(dir, "journal.lock"))).toBe(false);
    await expect(journal.append(updates(1, 1), 2)).rejects.toThrow("is not open");
    // A close() during an open() that fails is quiet: there is nothing to close.
    writeFileSync(join(dir, "journal.log"), "not a journal\n");
    const failing = journalIn();
    const failedOpen = failing.open();
    await failing.close();
    await expect(failedOpen).rejects.toThrow("is not a grammy-runner journal");
  });

  it("keeps unsettled updates across a clean close and reopen", async () => {
    const journal = journalIn();
    await journal.open();
    await journal.append(updates(1, 4), 5);
    journal.settle(2);
    await journal.close();
    expect((await journal.open()).pending.map((u) => u.update_id)).toEqual([1, 3, 4]);
  });

  it("reads back rounds of every size and script exactly as they were appended", async () => {
    const journal = journalIn();
    await journal.open();
    // A small round, one past the encoder's first buffer (64 KB), one past
    // what it keeps (1 MiB: about 3 MB of UTF-8), then a small one again.
    const text = (from: number, count: number, unit: string, repeat: number): U[] =>
      updates(from, count).map((u) => ({ ...u, text: `${u.text} ${unit.repeat(repeat)}` }));
    const rounds = [
      text(1, 3, "é", 10),
      text(4, 100, "x", 1_000),
      text(104, 100, "漢😀", 5_000),
      text(204, 2, "ok", 1),
    ];
    for (const round of rounds) await journal.append(round, round[round.length - 1].update_id + 1);
    journal.settle(2);
    await journal.flush();
    await crash();
    const recovery = await expectOpenAfterCrash(journalIn());
    expect(recovery.pending).toEqual(rounds.flat().filter((u) => u.update_id !== 2));
    expect(recovery.offset).toBe(206);
  });

  it("writes settle records lazily, without an explicit flush", async () => {
    const journal = journalIn(dir, { settleDelayMilliseconds: 1 });
    await journal.open();
    await journal.append(updates(1, 2), 3);
    journal.settle(1);
    await new Promise((r) => setTimeout(r, 50));
    await crash();
    const recovery = await expectOpenAfterCrash(journalIn());
    expect(recovery.pending.map((u) => u.update_id)).toEqual([2]);
  });

  it("discards a torn last record and keeps appending after it", async () => {
    const journal = journalIn();
    await journal.open();
    await journal.append(updates(1, 2), 3);
    await journal.append(updates(3, 2), 5);
    await crash();
    // A crash in the middle of writing the second batch: half of it made it to disk.
    const text = logText();
    const lastLine = text.trimEnd().split("\n").pop() as string;
    overwriteLog(text.slice(0, text.length - Math.floor(lastLine.length / 2)));
    const reopened = journalIn();
    const recovery = await expectOpenAfterCrash(reopened);
    expect(recovery.pending.map((u) => u.update_id)).toEqual([1, 2]);
    expect(recovery.offset).toBe(3);
    await reopened.append(updates(3, 1), 4);
    await reopened.close();
    expect((await journalIn().open()).pending.map((u) => u.update_id)).toEqual([1, 2, 3]);
  });

  it("discards a last record with a bad checksum (garbage after a power loss)", async () => {
    const journal = journalIn();
    await journal.open();
    await journal.append(updates(1, 1), 2);
    await crash();
    overwriteLog(`${logText()}0badc0de {"r":3,"o":9,"u":[]}\n`);
    const recovery = await expectOpenAfterCrash(journalIn());
    expect(recovery).toMatchObject({ pending: [{ update_id: 1, text: "msg 1" }], offset: 2 });
  });

  it("drops a last round torn with a bad record before good ones (a power loss)", async () => {
    const journal = journalIn();
    await journal.open();
    await journal.append(updates(1, 2), 3);
    // One writer round: the batch 3..4, then the settle record of 1.
    const appended = journal.append(updates(3, 2), 5);
    journal.settle(1);
    await appended;
    await crash();
    // The page holding the middle of the batch record never reached the disk.
    const lines = logText().split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[3]).toMatch(/"s":\[1\]/);
    const batch = lines[2];
    lines[2] = `${batch.slice(0, 20)}${"\0".repeat(batch.length - 40)}${batch.slice(-20)}`;
    overwriteLog(lines.join("\n"));
    const reopened = journalIn();
    // The whole round goes: the batch was not confirmed, the settle only means a duplicate.
    expect(await expectOpenAfterCrash(reopened)).toMatchObject({
      pending: updates(1, 2),
      offset: 3,
    });
    await reopened.append(updates(3, 1), 4);
    await reopened.close();
    expect((await journalIn().open()).pending.map((u) => u.update_id)).toEqual([1, 2, 3]);
  });

  it("refuses a damaged record followed by intact ones of later rounds, naming the file", async () => {
    const journal = journalIn();
    await journal.open();
    for (let id = 1; id <= 3; id++) await journal.append(updates(id, 1), id + 1);
    await crash();
    // Lines: the header, then one round per batch; damage the first batch.
    const path = join(dir, "journal.log");
    const lines = logText().split("\n");
    lines[1] = `xx${lines[1].slice(2)}`;
    overwriteLog(lines.join("\n"));
    await expect(expectOpenAfterCrash(journalIn())).rejects.toThrow(
      `${path} is damaged: line 2 is unreadable but later records (line 3) are intact`,
    );
  });

  it("refuses a foreign file with an error naming its path, and releases the lock", async () => {
    const path = join(dir, "journal.log");
    writeFileSync(path, "hello, I am somebody's notes\n");
    const journal = journalIn();
    await expect(journal.open()).rejects.toThrow(`${path} is not a grammy-runner journal`);
    expect(() => readFileSync(join(dir, "journal.lock"))).toThrow(/ENOENT/);
    // The file is left alone.
    expect(readFileSync(path, "utf8")).toBe("hello, I am somebody's notes\n");
  });

  it("names the path when the directory cannot be created", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    await expect(journalIn(join(file, "journal")).open()).rejects.toThrow(
      `Cannot create the journal directory ${join(file, "journal")}`,
    );
  });

  it("lets only one owner open a directory; the lock holds pid and host and goes on close", async () => {
    const first = journalIn();
    await first.open();
    expectOwnLock(join(dir, "journal.lock"));
    await expect(journalIn().open()).rejects.toThrow(/already in use by this process/);
    await first.close();
    expect(() => readFileSync(join(dir, "journal.lock"))).toThrow(/ENOENT/);
    await journalIn().open();
  });

  it("sees through a symlink to the same directory", async () => {
    await journalIn().open();
    const link = `${dir}-link`;
    symlinkSync(dir, link);
    try {
      await expect(journalIn(link).open()).rejects.toThrow(/already in use by this process/);
    } finally {
      rmSync(link, { force: true });
    }
  });

  it("fails at once when another live process holds the lock", async () => {
    // The parent of this test process is alive and is not us.
    writeFileSync(join(dir, "journal.lock"), lockText(process.ppid));
    const started = Date.now();
    await expect(journalIn().open()).rejects.toThrow(
      `in use by process ${process.ppid} (lock ${join(dir, "journal.lock")})`,
    );
    expect(Date.now() - started).toBeLessThan(5_000); // the watch would take 15 s
    // Not taken over, not removed.
    expect(readFileSync(join(dir, "journal.lock"), "utf8")).toBe(lockText(process.ppid));
  });

  it("takes over a stale lock whose process is dead, leaving no file of the takeover", async () => {
    const pid = deadPid();
    writeFileSync(join(dir, "journal.lock"), lockText(pid));
    const journal = journalIn();
    await journal.open();
    expectOwnLock(join(dir, "journal.lock"));
    await until(() => existsSync(join(dir, "journal.spare")));
    expect(readdirSync(dir).sort()).toEqual(["journal.lock", "journal.log", "journal.spare"]);
  });

  it("compacts: keeps only unsettled updates and the file shrinks", async () => {
    // No window of recent ids in the header, whose size would add to the bound checked here.
    const journal = journalIn(dir, { compactBytes: 4_096, recentIds: 0 });
    await journal.open();
    const path = join(dir, "journal.log");
    const sizes: number[] = [];
    let appended = 0;
    for (let batch = 0; batch < 100; batch++) {
      const first = batch * 10 + 1;
      const batchUpdates = updates(first, 10);
      appended += JSON.stringify(batchUpdates).length;
      await journal.append(batchUpdates, first + 10);
      // All but the first update of each batch settle.
      for (let id = first + 1; id < first + 10; id++) journal.settle(id);
      await journal.flush();
      sizes.push(logText(path).length);
      // Preallocated up to the next compaction.
      expect(statSync(path).size).toBeGreaterThanOrEqual(4_096);
    }
    // Far more was written than the file ever held: it shrank several times.
    expect(appended).toBeGreaterThan(4 * 4_096);
    const shrinks = sizes.filter((size, i) => i > 0 && size < sizes[i - 1]).length;
    expect(shrinks).toBeGreaterThanOrEqual(3);
    // Bounded by max(compactBytes, 2 x unsettled bytes) plus one record, never by what was appended.
    expect(Math.max(...sizes)).toBeLessThan(9_000);
    expect(appended).toBeGreaterThan(30_000);
    await journal.close();
    const recovery = await journalIn().open();
    expect(recovery.pending.map((u) => u.update_id)).toEqual(
      Array.from({ length: 100 }, (_, i) => i * 10 + 1),
    );
    expect(recovery.offset).toBe(1001);
  });

  it("compacts into a spare file zero-filled in the background, removed on close", async () => {
    const journal = journalIn(dir, { compactBytes: 4_096 });
    await journal.open();
    const path = join(dir, "journal.log");
    const spare = join(dir, "journal.spare");
    // Prepared after the compaction at open, while the journal goes on.
    await until(() => existsSync(spare));
    const spareInode = statSync(spare).ino;
    const logInode = statSync(path).ino;
    let first = 1;
    while (statSync(path).ino === logInode && first < 1_000) {
      await journal.append(updates(first, 10), first + 10);
      for (let id = first; id < first + 10; id++) journal.settle(id);
      await journal.flush();
      first += 10;
    }
    // The compacted log is the spare, renamed; a new spare follows for the next one.
    expect(statSync(path).ino).toBe(spareInode);
    await until(() => existsSync(spare));
    await journal.close();
    expect(existsSync(spare)).toBe(false);
    expect(await journalIn().open()).toMatchObject({ pending: [], offset: first });
  });

  it("never reads a spare file left by a crash", async () => {
    const journal = journalIn(dir, { compactBytes: 4_096 });
    await journal.open();
    await journal.append(updates(1, 3), 4);
    await crash();
    // A crash after a compaction had written into the spare, before its rename.
    const stale = readFileSync(join(dir, "journal.log"));
    writeFileSync(join(dir, "journal.spare"), stale);
    writeFileSync(join(dir, "journal.log"), "");
    const reopened = journalIn(dir, { compactBytes: 4_096 });
    expect(await expectOpenAfterCrash(reopened)).toMatchObject({ pending: [], offset: undefined });
    for (let id = 10; id < 400; id += 10) {
      await reopened.append(updates(id, 10), id + 10);
      for (let settled = id; settled < id + 10; settled++) reopened.settle(settled);
    }
    await reopened.append(updates(400, 1), 401);
    await crash();
    expect(await expectOpenAfterCrash(journalIn())).toMatchObject({
      pending: updates(400, 1),
      offset: 401,
    });
  });

  it("keeps a settle in order with the batches around it, when a settled id comes again", async () => {
    const journal = journalIn(dir, { settleDelayMilliseconds: 60_000 });
    await journal.open();
    const u = (update_id: number, text: string): U => ({ update_id, text });
    await journal.append([u(7, "first")], 8);
    journal.settle(7);
    // Within the settle delay: the settle record and the new batch go out together.
    await journal.append([u(7, "again")], 9);
    await journal.flush();
    await crash();
    expect(await expectOpenAfterCrash(journalIn())).toMatchObject({
      pending: [u(7, "again")],
      offset: 9,
    });
  });

  it("does not compact again and again when the unsettled text is not Latin", async () => {
    const journal = journalIn(dir, { compactBytes: 20_000 });
    await journal.open();
    const path = join(dir, "journal.log");
    // About 30 KB of UTF-8 but 10,000 UTF-16 units left unsettled: more than compactBytes.
    const wide = Array.from({ length: 10 }, (_, i) => ({
      update_id: i + 1,
      text: "漢".repeat(1_000),
    }));
    await journal.append(wide, 11);
    let compactions = 0;
    let inode = statSync(path).ino;
    for (let id = 11; id < 61; id++) {
      await journal.append(updates(id, 1), id + 1);
      journal.settle(id);
      await journal.flush();
      const now = statSync(path).ino;
      if (now !== inode) compactions++;
      inode = now;
    }
    expect(compactions).toBeLessThanOrEqual(1);
    await journal.close();
    expect((await journalIn().open()).pending.map((u) => u.update_id)).toEqual(
      wide.map((u) => u.update_id),
    );
  });

  it("compacts without a spare file when one cannot be made", async () => {
    // Something that is not a file stands where the spare would go.
    mkdirSync(join(dir, "journal.spare"));
    const journal = journalIn(dir, { compactBytes: 4_096 });
    await journal.open();
    const path = join(dir, "journal.log");
    const inode = statSync(path).ino;
    let first = 1;
    while (statSync(path).ino === inode && first < 1_000) {
      await journal.append(updates(first, 10), first + 10);
      for (let id = first + 1; id < first + 10; id++) journal.settle(id);
      await journal.flush();
      first += 10;
    }
    expect(first).toBeLessThan(1_000);
    await crash();
    const recovery = await expectOpenAfterCrash(journalIn(dir, { compactBytes: 4_096 }));
    expect(recovery.pending.map((u) => u.update_id)).toEqual(
      Array.from({ length: (first - 1) / 10 }, (_, i) => i * 10 + 1),
    );
  });

  it("lets only one of two open() calls at once in one process take the lock", async () => {
    const results = await Promise.allSettled([journalIn().open(), journalIn().open()]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const failure = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(String(failure.reason)).toMatch(/already in use by this process/);
    expectOwnLock(join(dir, "journal.lock"));
  });

  it("keeps append order through out-of-order settles, duplicates and ids that start over", async () => {
    const journal = journalIn(dir, { compactBytes: 0 });
    await journal.open();
    const u = (update_id: number, text: string): U => ({ update_id, text });
    await journal.append([u(1, "a"), u(2, "a"), u(3, "a")], 4);
    await journal.append([u(4, "a"), u(5, "a"), u(6, "a")], 7);
    for (const id of [5, 1, 99, 5]) journal.settle(id);
    // 3 is still unsettled: it keeps its place and takes the new content (like a Map);
    // 1 was settled: it comes back at the end; 7 appears twice in one batch.
    await journal.append([u(3, "b"), u(1, "b"), u(7, "a"), u(7, "b")], 8);
    // Ids that start over (Telegram does after a week without updates).
    await journal.append([u(2, "c"), u(0, "c")], 3);
    journal.settle(6);
    journal.settle(2);
    await journal.flush();
    const expected = [u(3, "b"), u(4, "a"), u(1, "b"), u(7, "b"), u(0, "c")];
    await crash();
    const recovery = await expectOpenAfterCrash(journalIn(dir, { compactBytes: 0 }));
    expect(recovery).toMatchObject({ pending: expected, offset: 3 });
    // The rewrite at open keeps exactly that, and settles keep working on it.
    const again = opened[opened.length - 1];
    again.settle(7);
    again.settle(3);
    await again.close();
    expect((await journalIn().open()).pending).toEqual([u(4, "a"), u(1, "b"), u(0, "c")]);
  });

  it("agrees with a Map of unsettled updates under random appends, settles and compactions", async () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const model = new Map<number, U>();
    const journal = journalIn(dir, { compactBytes: 2_000 });
    await journal.open();
    let next = 1;
    for (let step = 0; step < 300; step++) {
      const batch: U[] = [];
      for (let k = random(6); k > 0; k--) {
        // Mostly ascending ids, sometimes an old one again.
        const id = random(8) === 0 ? 1 + random(next) : next++;
        batch.push({ update_id: id, text: `step ${step}` });
      }
      for (const update of batch) model.set(update.update_id, update);
      const appended = journal.append(batch, next);
      for (let k = random(7); k > 0; k--) {
        const id = 1 + random(next + 2);
        model.delete(id);
        journal.settle(id);
      }
      await appended;
      if (random(10) === 0) await journal.flush();
    }
    await journal.flush();
    await crash();
    const recovery = await expectOpenAfterCrash(journalIn());
    expect(recovery.pending).toEqual([...model.values()]);
    expect(recovery.offset).toBe(next);
  });

  it("batches fsyncs: appends made while one is in progress share the next", async () => {
    const journal = journalIn();
    await journal.open();
    const all = Array.from({ length: 50 }, (_, i) => journal.append(updates(i + 1, 1), i + 2));
    await Promise.all(all);
    await journal.close();
    expect((await journalIn().open()).pending).toHaveLength(50);
  });

  it("makes append reject, with the path, once writing fails", async () => {
    const journal = journalIn();
    await journal.open();
    await journal.append(updates(1, 1), 2);
    // Pull the file handle away under it, like a disk error would.
    const handle = (journal as unknown as { fd: { close(): Promise<void> } }).fd;
    await handle.close();
    await expect(journal.append(updates(2, 1), 3)).rejects.toThrow(
      `Writing the journal ${join(dir, "journal.log")} failed`,
    );
    await expect(journal.flush()).rejects.toThrow(/Writing the journal/);
  });

  it("check() passes while the lock is held and throws, failing appends too, once it is taken over", async () => {
    const journal = journalIn();
    expect(() => journal.check?.()).toThrow(`The journal ${join(dir, "journal.log")} is not open.`);
    await journal.open();
    journal.check?.();
    // Another process takes the directory over: a new lock file under the name.
    const lock = join(dir, "journal.lock");
    writeFileSync(`${lock}.other`, lockText(process.ppid, { token: "token-b" }));
    renameSync(`${lock}.other`, lock);
    expect(() => journal.check?.()).toThrow(
      `The journal lock ${lock} now belongs to process ${process.ppid}`,
    );
    await expect(journal.append(updates(1, 1), 2)).rejects.toThrow(/now belongs to process/);
    // The new owner's lock stays.
    expect(readFileSync(lock, "utf8")).toBe(lockText(process.ppid, { token: "token-b" }));
  });

  it("checks its arguments", () => {
    expect(() => fileJournal("")).toThrow(TypeError);
    expect(() => fileJournal(42 as unknown as string)).toThrow(
      "fileJournal: the directory must be a non-empty string path, but got 42.",
    );
    expect(() => fileJournal(dir, { compactBytes: -1 })).toThrow(RangeError);
    // The log is preallocated to this size: it must be a bounded whole number.
    expect(() => fileJournal(dir, { compactBytes: Infinity })).toThrow(RangeError);
    expect(() => fileJournal(dir, { compactBytes: 1000.5 })).toThrow(
      /compactBytes.*an integer from 0 to 1073741824.*1000\.5/,
    );
    expect(() => fileJournal(dir, { compactByte: 1 } as never)).toThrow(
      /Did you mean `compactBytes`/,
    );
  });
});

describe("run() journal option", () => {
  const bot = {
    api: { getUpdates: async () => [] },
    handleUpdate: async () => {},
    errorHandler: () => {},
  };

  it("is validated like the other options", () => {
    expect(() => run(bot, { journal: "../dir" as never })).toThrow(
      'Option `journal` must be an UpdateJournal (an object with open, append, settle, flush and close functions, and optionally check), e.g. fileJournal("./"), but got "../dir".',
    );
    expect(() => run(bot, { journal: { open() {} } as never })).toThrow(
      /but got an object without a `append` function/,
    );
    const fn = async () => {};
    const journal = { open: fn, append: fn, settle: fn, flush: fn, close: fn, check: 1 };
    expect(() => run(bot, { journal: journal as never })).toThrow(
      /but got an object whose `check` is 1 rather than a function/,
    );
    expect(() => run(bot, { journl: {} } as never)).toThrow(/Did you mean `journal`/);
  });

  it("isReplayed is false for anything not read from a journal", () => {
    expect(isReplayed({ update_id: 1 })).toBe(false);
    expect(isReplayed(undefined)).toBe(false);
    expect(isReplayed(1)).toBe(false);
  });
});

/** Opens a journal whose previous owner (this process) "crashed" without closing it. */
async function expectOpenAfterCrash(journal: UpdateJournal<U>) {
  // In one process the lock of the abandoned journal is still registered as
  // held; a crashed process would have lost that, so forget it the same way.
  const held = (globalThis as Record<symbol, Set<string> | undefined>)[
    Symbol.for("grammy-runner.journal-locks")
  ];
  held?.delete(join(realpathSync(dir), "journal.lock"));
  // And a crashed process's lock predates the process that finds it.
  const lock = join(dir, "journal.lock");
  if (existsSync(lock)) utimesSync(lock, new Date(0), new Date(0));
  return journal.open();
}
