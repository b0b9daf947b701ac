import { type ChildProcess, fork, spawnSync } from "node:child_process";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { ClientRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Update } from "grammy/types";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  fileJournal,
  isReplayed,
  run,
  sequentialize,
  type UpdateJournal,
} from "../../src/index.js";
import { botFor, failOnUnhandled, gate, until, useFakeApi } from "../helpers/bot.js";
import { lockText } from "../helpers/lock.js";

const ctx = useFakeApi();
failOnUnhandled();

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "grammy-runner-journal-it-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** What a fresh process would find in the journal directory. */
async function leftIn(path: string): Promise<{ pending: number[]; offset: number | undefined }> {
  const journal = fileJournal(path);
  const { pending, offset } = await journal.open();
  await journal.close();
  return { pending: pending.map((u) => u.update_id), offset };
}

/** A journal that stores nothing, with `parts` in place of its no-op functions. */
function stubJournal(parts: Partial<UpdateJournal>): UpdateJournal {
  return {
    open: async () => ({ pending: [], offset: undefined }),
    append: async () => {},
    settle: () => {},
    flush: async () => {},
    close: async () => {},
    ...parts,
  };
}

/** Leaves a journal as a process killed mid-run would: updates appended, unsettled, lock stale. */
async function abandonedJournal(path: string, updates: Update[], offset: number): Promise<void> {
  const journal = fileJournal(path);
  await journal.open();
  await journal.append(updates, offset);
  await journal.close();
  const dead = spawnSync(process.execPath, ["-e", ""]).pid as number;
  writeFileSync(join(path, "journal.lock"), lockText(dead));
}

describe("run() with a journal", () => {
  it("handles everything and a graceful stop leaves nothing to replay", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    bot.on("message:text", async (c) => {
      await new Promise((r) => setTimeout(r, c.update.update_id % 5));
      await c.reply(c.message.text);
    });
    const updates = api.pushMessages({ count: 250, chats: 10 });
    const handle = run(bot, { journal: fileJournal(dir) });
    await api.waitFor((a) => a.calls("sendMessage").length === 250);
    await handle.stop();
    await expect(handle.task()).resolves.toBeUndefined();
    const last = updates[updates.length - 1].update_id;
    expect(api.stats.confirmedOffset).toBe(last + 1);
    expect(await leftIn(dir)).toEqual({ pending: [], offset: last + 1 });
    expect(handle.stats()).toMatchObject({ handled: 250, replayed: 0 });
  });

  it("puts the getUpdates that confirms a batch on the wire before the batch's handlers run, as without a journal", async () => {
    const { api } = ctx;
    // Published when node:http hands a request its socket, which writes it.
    let written = 0;
    const onRequest = (message: unknown) => {
      if ((message as { request: ClientRequest }).request.path.endsWith("/getUpdates")) written++;
    };
    subscribe("http.client.request.start", onRequest);
    try {
      api.pushMessages({ count: 5, chats: 5 });
      const polls = (journal: UpdateJournal | undefined) => {
        const bot = botFor(api);
        let calls = 0;
        bot.api.config.use((prev, method, payload, signal) => {
          if (method === "getUpdates") calls++;
          return prev(method, payload, signal);
        });
        const seen: { calls: number; written: number }[] = [];
        // Synchronous work of a handler: how many getUpdates had gone out by then.
        bot.use(() => void seen.push({ calls, written }));
        const before = written;
        return { handle: run(bot, { journal }), seen, before };
      };
      const plain = polls(undefined);
      await until(() => plain.seen.length === 5);
      await plain.handle.stop();
      api.pushMessages({ count: 5, chats: 5 });
      const journaled = polls(fileJournal(dir));
      await until(() => journaled.seen.length === 5);
      await journaled.handle.stop();
      // The fetch of the batch, then the next one (which confirms it), then the handlers.
      expect(plain.seen[0]).toEqual({ calls: 2, written: plain.before + 2 });
      expect(journaled.seen[0]).toEqual({ calls: 2, written: journaled.before + 2 });
      expect(await leftIn(dir)).toEqual({ pending: [], offset: api.stats.confirmedOffset });
    } finally {
      unsubscribe("http.client.request.start", onRequest);
    }
  });

  it("replays an update left in flight first, flagged, in order, then fetches new ones", async () => {
    const { api } = ctx;
    // The "previous process" fetched 1..5 and was killed while handling them.
    const old = api.pushMessages({ count: 5, chats: 1 });
    await abandonedJournal(dir, old, 6);
    api.pushMessages({ count: 3, chats: 1 });
    const bot = botFor(api);
    const seen: string[] = [];
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async (c) => {
      // Earlier updates take longer: only the replay order plus sequentialize keep them in order.
      await new Promise((r) => setTimeout(r, 20 - c.update.update_id * 2));
      seen.push(`${c.update.update_id}${isReplayed(c.update) ? " replayed" : ""}`);
    });
    const handle = run(bot, { journal: fileJournal(dir), sink: { concurrency: 2 } });
    await until(() => seen.length === 8);
    await handle.stop();
    expect(seen).toEqual([
      "1 replayed",
      "2 replayed",
      "3 replayed",
      "4 replayed",
      "5 replayed",
      "6",
      "7",
      "8",
    ]);
    // The first getUpdates started at the journal's offset: 1..5 were never fetched again.
    expect(api.stats.delivered).toBe(3);
    expect(api.stats.confirmedOffset).toBe(9);
    expect(handle.stats()).toMatchObject({ replayed: 5, handled: 8 });
    expect(await leftIn(dir)).toEqual({ pending: [], offset: 9 });
  });

  it("replays under the concurrency cap, with errors going to bot.catch and timeouts settling", async () => {
    const { api } = ctx;
    const old = api.pushMessages({ count: 12, chats: 12 });
    await abandonedJournal(dir, old, 13);
    const bot = botFor(api);
    const caught: number[] = [];
    const timedOut: number[] = [];
    let running = 0;
    let peak = 0;
    // Update 3 waits for this gate, opened only after the checks, so it times
    // out whatever the host's load; the others take 5 ms, far under the limit.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    bot.catch((err) => void caught.push(err.ctx.update.update_id));
    bot.on("message", async (c) => {
      running++;
      peak = Math.max(peak, running);
      try {
        const id = c.update.update_id;
        if (id === 3) await gate;
        else await new Promise((r) => setTimeout(r, 5));
        if (id % 4 === 0) throw new Error(`boom ${id}`);
      } finally {
        running--;
      }
    });
    const handle = run(bot, {
      journal: fileJournal(dir),
      sink: {
        concurrency: 3,
        timeout: { milliseconds: 1_000, handler: (u) => void timedOut.push(u.update_id) },
      },
    });
    // Update 3 counts as handled only once its handler ends, after the gate.
    await until(() => handle.stats().handled === 11 && timedOut.length === 1);
    await handle.stop();
    release();
    expect(peak).toBeLessThanOrEqual(3);
    expect(caught).toEqual([4, 8, 12]);
    expect(timedOut).toEqual([3]);
    expect(handle.stats()).toMatchObject({ replayed: 12, failed: 3, timedOut: 1 });
    expect(await leftIn(dir)).toEqual({ pending: [], offset: 13 });
  });

  it("a second runner on the same journal fails at once and does not disturb the first", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const handled: number[] = [];
    bot.on("message", (c) => void handled.push(c.update.update_id));
    const first = run(bot, { journal: fileJournal(dir) });
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 1);
    const second = run(botFor(api), { journal: fileJournal(dir), runner: { silent: true } });
    await expect(second.task()).rejects.toThrow(
      `The journal in ${dir} is already in use by this process`,
    );
    expect(first.isRunning()).toBe(true);
    api.pushMessages({ count: 4 });
    await until(() => handled.length === 4);
    await first.stop();
    await expect(first.task()).resolves.toBeUndefined();
    expect(await leftIn(dir)).toEqual({ pending: [], offset: 5 });
  });

  it("stops polling once another process takes the journal over, even with no updates coming", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    // Polls answered at once: a runner that did not check would poll on and on.
    const handle = run(bot, {
      journal: fileJournal(dir),
      runner: { fetch: { timeout: 0 }, silent: true },
    });
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 3);
    const lock = join(dir, "journal.lock");
    writeFileSync(`${lock}.new`, lockText(process.ppid, { token: "token-b" }));
    renameSync(`${lock}.new`, lock);
    const pollsAtTakeover = api.stats.getUpdatesCalls;
    await until(() => !handle.isRunning());
    await expect(handle.task()).rejects.toThrow(
      `The journal lock ${lock} now belongs to process ${process.ppid}`,
    );
    // At most the poll already on its way: none that would end the new owner's.
    expect(api.stats.getUpdatesCalls).toBeLessThanOrEqual(pollsAtTakeover + 1);
    expect(readFileSync(lock, "utf8")).toBe(lockText(process.ppid, { token: "token-b" }));
  });

  it("awaits a custom journal's async check(), and stops when it rejects", async () => {
    const { api } = ctx;
    let owned = true;
    const journal = stubJournal({
      // A networked store asks whether this process still owns it.
      check: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (!owned) throw new Error("the store now belongs to another process");
      },
    });
    const handle = run(botFor(api), {
      journal,
      runner: { fetch: { timeout: 0 }, silent: true },
    });
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 3);
    owned = false;
    const pollsAtLoss = api.stats.getUpdatesCalls;
    await until(() => !handle.isRunning());
    await expect(handle.task()).rejects.toThrow("the store now belongs to another process");
    expect(api.stats.getUpdatesCalls).toBeLessThanOrEqual(pollsAtLoss + 1);
  });

  it("fails even a stop under way when append throws instead of rejecting, confirming nothing after it", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen: number[] = [];
    bot.on("message", (c) => void seen.push(c.update.update_id));
    const stored = new Map<number, Update>();
    // A store that throws, rather than rejects, once full.
    const journal = stubJournal({
      append: (updates) => {
        if (stored.size > 0) throw new Error("the store is full");
        for (const u of updates) stored.set(u.update_id, u);
        return Promise.resolve();
      },
    });
    let handle: ReturnType<typeof run> | undefined;
    let batches = 0;
    bot.api.config.use(async (prev, method, payload, signal) => {
      const answer = await prev(method, payload, signal);
      // The stop begins while the second batch is on its way to the journal.
      if (method === "getUpdates" && answer.ok && (answer.result as unknown[]).length > 0)
        if (++batches === 2) void handle?.stop();
      return answer;
    });
    api.pushMessages({ count: 2 });
    handle = run(bot, { journal, runner: { fetch: { timeout: 0 }, silent: true } });
    await until(() => seen.length === 2);
    api.pushMessages({ count: 3 });
    await until(() => !handle.isRunning());
    await expect(handle.task()).rejects.toThrow("the store is full");
    // 3..5 are not stored, so Telegram keeps them: only the first batch is confirmed.
    expect(api.stats.confirmedOffset).toBe(3);
    expect(api.pending()).toBe(3);
  });

  it("fails the runner when append returns no promise, confirming nothing after the batch", async () => {
    const { api } = ctx;
    const stored = new Map<number, Update>();
    // Forgot to return the store's promise: the batch must not count as stored.
    const journal = stubJournal({
      append: ((updates: readonly Update[]) => {
        for (const u of updates) stored.set(u.update_id, u);
      }) as unknown as UpdateJournal["append"],
    });
    api.pushMessages({ count: 5 });
    const handle = run(botFor(api), { journal, runner: { fetch: { timeout: 0 }, silent: true } });
    await until(() => !handle.isRunning());
    await expect(handle.task()).rejects.toThrow(
      "journal.append() must return a promise that resolves once the batch is stored, but returned undefined.",
    );
    expect(api.stats.getUpdatesCalls).toBe(1);
    expect(api.stats.confirmedOffset).toBe(0);
  });

  it("fails a stop under way when check() throws, without the final confirmation", async () => {
    const { api } = ctx;
    let handle: ReturnType<typeof run> | undefined;
    let checks = 0;
    const journal = stubJournal({
      check: () => {
        // The store is lost just as the bot is told to stop.
        if (++checks < 2) return;
        void handle?.stop();
        throw new Error("the store now belongs to another process");
      },
    });
    api.pushMessages({ count: 5 });
    handle = run(botFor(api), { journal, runner: { fetch: { timeout: 0 }, silent: true } });
    await until(() => !handle.isRunning());
    await expect(handle.task()).rejects.toThrow("the store now belongs to another process");
    // The final getUpdates could end the new owner's poll with 409: it is not sent.
    expect(api.stats.getUpdatesCalls).toBe(1);
    expect(api.stats.confirmedOffset).toBe(0);
  });

  it("fails the runner instead of confirming a batch the journal could not store", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const release = gate();
    bot.on("message", () => release.promise);
    const failing = stubJournal({
      append: async () => {
        throw new Error("ENOSPC: no space left on device");
      },
    });
    api.pushMessages({ count: 3 });
    const handle = run(bot, { journal: failing, runner: { silent: true } });
    await until(() => handle.size() === 3);
    release.open();
    await expect(handle.task()).rejects.toThrow("ENOSPC: no space left on device");
    expect(handle.isRunning()).toBe(false);
    // Telegram was never told the batch arrived: it will deliver it again.
    expect(api.stats.confirmedOffset).toBe(0);
    expect(api.pending()).toBe(3);
  });

  it("a journal failing during stop fails the task and skips the confirmation", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    bot.on("message", () => {});
    const stored = gate();
    let closed = 0;
    const journal = stubJournal({
      // A slow disk: the batch is not durable yet when stop() is called.
      append: () => stored.promise,
      flush: async () => {
        throw new Error("EIO: i/o error");
      },
      close: async () => void closed++,
    });
    api.pushMessages({ count: 2 });
    const handle = run(bot, { journal, runner: { silent: true } });
    await until(() => handle.stats().handled === 2);
    const stopping = handle.stop();
    stored.open();
    await stopping;
    await expect(handle.task()).rejects.toThrow("EIO: i/o error");
    expect(closed).toBe(1);
    // Neither a getUpdates nor the final confirmation told Telegram about 1 and 2.
    expect(api.stats.confirmedOffset).toBe(0);
    expect(api.pending()).toBe(2);
  });

  it("can be stopped and started again on the same journal", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen: number[] = [];
    bot.on("message", (c) => void seen.push(c.update.update_id));
    const journal = fileJournal(dir);
    const handle = run(bot, { journal });
    api.pushMessages({ count: 3 });
    await until(() => seen.length === 3);
    await handle.stop();
    api.pushMessages({ count: 3 });
    handle.start();
    await until(() => seen.length === 6);
    await handle.stop();
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await leftIn(dir)).toEqual({ pending: [], offset: 7 });
  });
});

const BOT_FIXTURE = fileURLToPath(new URL("../fixtures/.build/journal-bot.cjs", import.meta.url));
/**
 * How long before a kill a reply may reach the server with its settle record
 * still unwritten: the reply's answer travelling back, the 10 ms settle-record
 * delay, the write, and the signal's own latency (measured: under 20 ms).
 */
const SETTLE_GRACE_MS = 250;

describe("a bot process killed with SIGKILL while handling updates", () => {
  it("loses nothing across 6 kills; duplicates only updates in flight at a kill", async () => {
    const { api } = ctx;
    const pushed: number[] = [];
    const push = (count: number) => {
      for (const u of api.pushMessages({ count, chats: 25 })) pushed.push(u.update_id);
    };
    /** Distinct updates the server ever returned; always the first ones pushed. */
    const deliveredCount = () => api.stats.delivered - api.stats.redelivered;
    const replies = () => {
      const byId = new Map<number, number[]>();
      for (const call of api.calls("sendMessage")) {
        const id = Number(call.params.text);
        byId.set(id, [...(byId.get(id) ?? []), call.at]);
      }
      return byId;
    };
    const inFlight = () => {
      const replied = replies();
      return pushed.slice(0, deliveredCount()).filter((id) => !replied.has(id)).length;
    };
    const start = (): { child: ChildProcess; exited: Promise<number | null>; stderr: string[] } => {
      const stderr: string[] = [];
      const child = fork(BOT_FIXTURE, [], {
        execArgv: [],
        stdio: ["ignore", "ignore", "pipe", "ipc"],
        env: {
          ...process.env,
          JOURNAL_BOT_API: api.url,
          JOURNAL_BOT_TOKEN: api.token,
          JOURNAL_BOT_DIR: dir,
        },
      });
      child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      return { child, exited, stderr };
    };

    const kills: { at: number; delivered: number; inFlight: number }[] = [];
    for (let round = 0; round < 6; round++) {
      push(60);
      const callsBefore = api.stats.getUpdatesCalls;
      const { child, exited } = start();
      // Running once it polls (replayed updates are handed out before the first poll),
      // then a random moment at which something is in flight.
      await api.waitFor((a) => a.stats.getUpdatesCalls > callsBefore, 15_000);
      await new Promise((r) => setTimeout(r, Math.random() * 400));
      await until(() => inFlight() > 0, 10_000);
      kills.push({ at: Date.now(), delivered: deliveredCount(), inFlight: inFlight() });
      child.kill("SIGKILL");
      expect(await exited).toBeNull();
    }

    push(40);
    const last = start();
    await until(() => replies().size === pushed.length, 20_000);
    const stopped = new Promise<unknown>((resolve) => last.child.once("message", resolve));
    last.child.send("stop");
    expect(await stopped).toMatchObject({ stopped: true });
    expect(await last.exited).toBe(0);
    expect(last.stderr.join("")).toBe("");

    const replied = replies();
    const lost = pushed.filter((id) => !replied.has(id));
    const duplicated = [...replied].filter(([, times]) => times.length > 1);
    // The kill after which each duplicate's first reply came least long before it.
    const gaps = duplicated.map(([, times]) =>
      Math.min(...kills.map((k) => k.at - times[0]).filter((gap) => gap > -SETTLE_GRACE_MS)),
    );
    const unexplained = duplicated.filter(([id, times]) => {
      const index = pushed.indexOf(id);
      // Delivered before some kill, and not replied to (long enough) before it.
      return !kills.some((k) => index < k.delivered && times[0] > k.at - SETTLE_GRACE_MS);
    });
    console.log(
      `kill test: ${pushed.length} updates, ${kills.length} kills with ${kills.map((k) => k.inFlight).join("/")} in flight, lost ${lost.length}, duplicated ${duplicated.length} (first reply at most ${Math.max(0, ...gaps)} ms before a kill), redelivered by the server ${api.stats.redelivered}`,
    );
    expect(lost).toEqual([]);
    expect(unexplained).toEqual([]);
    expect(replied.size).toBe(pushed.length);
    expect(await leftIn(dir)).toEqual({ pending: [], offset: pushed[pushed.length - 1] + 1 });
  }, 60_000);
});
