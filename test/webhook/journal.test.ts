import { type ChildProcess, fork } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileJournal, isReplayed, sequentialize, webhook } from "../../src/index.js";
import { botFor, failOnUnhandled, gate, until } from "../helpers/bot.js";
import { listen, message, post, SECRET, useWebhookApi } from "../helpers/webhook.js";

// Telegram's wait scaled down to 1 s: handlers held longer would be re-sent without a journal.
const ctx = useWebhookApi(1_000);
failOnUnhandled();

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "grammy-runner-webhook-journal-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function leftIn(path: string): Promise<number[]> {
  const journal = fileJournal(path);
  const { pending } = await journal.open();
  await journal.close();
  return pending.map((u) => u.update_id);
}

describe("webhook() with a journal", () => {
  it("answers once an update is stored, so a handler slower than Telegram's wait causes no re-send", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const slow = gate();
    let done = 0;
    bot.on("message", async () => {
      await slow.promise;
      done++;
    });
    const handle = webhook(bot, { secretToken: SECRET, journal: fileJournal(dir) });
    const url = await listen(handle.callback("http"));
    await bot.api.setWebhook(url, { secret_token: SECRET });
    api.pushMessages({ count: 30, chats: 3 });
    await api.waitFor((a) => a.stats.webhookAnswered === 30);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(done).toBe(0);
    expect(api.stats.webhookResends).toBe(0);
    slow.open();
    await handle.stop();
    expect(done).toBe(30);
    // stop() flushed and closed the journal: nothing left, and the lock is free.
    expect(await leftIn(dir)).toEqual([]);
  });

  it("replays what a previous run left first, flagged and in order, and drops Telegram's re-sends of it", async () => {
    const { api } = ctx;
    const previous = fileJournal(dir);
    await previous.open();
    await previous.append([message(1), message(2), message(3)], 4);
    previous.settle(2);
    await previous.close();
    const bot = botFor(api);
    const seen: string[] = [];
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async (c) => {
      await new Promise((r) => setTimeout(r, 10 - c.update.update_id));
      seen.push(`${c.update.update_id}${isReplayed(c.update) ? " replayed" : ""}`);
    });
    const handle = webhook(bot, { secretToken: SECRET, journal: fileJournal(dir) });
    const url = await listen(handle.callback("http"));
    // Telegram sends update 3 again (its answer was lost in the crash), then a new one.
    expect((await post(url, message(3), SECRET)).status).toBe(200);
    expect((await post(url, message(4), SECRET)).status).toBe(200);
    await until(() => seen.length === 3);
    await handle.stop();
    expect(seen).toEqual(["1 replayed", "3 replayed", "4"]);
    expect(handle.stats()).toMatchObject({ replayed: 2, handled: 3 });
    expect(handle.stats().webhook.duplicates).toBe(1);
    expect(await leftIn(dir)).toEqual([]);
  });

  it("drops Telegram's re-send of an update handled and settled before a restart", async () => {
    const { api } = ctx;
    const handledIn = async (journalDir: string, ids: number[]) => {
      const bot = botFor(api);
      const seen: number[] = [];
      bot.on("message", (c) => void seen.push(c.update.update_id));
      const handle = webhook(bot, { secretToken: SECRET, journal: fileJournal(journalDir) });
      const url = await listen(handle.callback("http"));
      for (const id of ids) expect((await post(url, message(id), SECRET)).status).toBe(200);
      await until(() => handle.stats().handled + handle.stats().webhook.duplicates === ids.length);
      await handle.stop();
      return { seen, duplicates: handle.stats().webhook.duplicates };
    };
    // A clean stop: the window goes into the compacted log's header.
    expect(await handledIn(dir, [1, 2, 3])).toEqual({ seen: [1, 2, 3], duplicates: 0 });
    expect(await handledIn(dir, [2, 4])).toEqual({ seen: [4], duplicates: 1 });
    // A crash: the log as it was on disk, settled and never compacted.
    const journal = fileJournal(dir);
    await journal.open();
    await journal.append([message(10), message(11)], 12);
    journal.settle(10);
    journal.settle(11);
    await journal.flush();
    const crashed = join(dir, "crashed");
    mkdirSync(crashed);
    copyFileSync(join(dir, "journal.log"), join(crashed, "journal.log"));
    await journal.close();
    expect(await handledIn(crashed, [11, 3, 12])).toEqual({ seen: [12], duplicates: 2 });
  });

  it("remembers the last `recentIds` appended ids across a restart, and none with 0", async () => {
    const reopened = async (options: { recentIds: number }) => {
      const journal = fileJournal(dir, options);
      const { recent } = await journal.open();
      await journal.close();
      return recent;
    };
    const first = fileJournal(dir, { recentIds: 3 });
    await first.open();
    await first.append([message(1), message(2)], 3);
    await first.append([message(3), message(4)], 5);
    for (const id of [1, 2, 3, 4]) first.settle(id);
    await first.close();
    expect(await reopened({ recentIds: 3 })).toEqual([2, 3, 4]);
    expect(await reopened({ recentIds: 2 })).toEqual([3, 4]);
    expect(await reopened({ recentIds: 0 })).toEqual([]);
    // Once a window of 0 compacted the log, nothing is left to remember.
    expect(await reopened({ recentIds: 3 })).toEqual([]);
  });

  it("answers 500 and ends, as run() does, when the journal fails to store an update", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const inner = fileJournal(dir);
    const handle = webhook(bot, {
      secretToken: SECRET,
      silent: true,
      journal: {
        open: () => inner.open(),
        append: () => Promise.reject(new Error("disk full")),
        settle: (id) => inner.settle(id),
        flush: () => inner.flush(),
        close: () => inner.close(),
      },
    });
    const url = await listen(handle.callback("http"));
    expect((await post(url, message(1), SECRET)).status).toBe(500);
    await expect(handle.task()).rejects.toThrow(/disk full/);
    expect(handle.isRunning()).toBe(false);
    // Telegram's re-send waits for a restarted process.
    expect((await post(url, message(1), SECRET)).status).toBe(503);
    expect(handle.stats().webhook.journalErrors).toBe(1);
    expect(handle.stats().lastError).toMatch(/disk full/);
    // The journal was released: a new process can take it.
    expect(await leftIn(dir)).toEqual([]);
  });

  it("fails, refusing every request, when the journal cannot be opened", async () => {
    const holder = fileJournal(dir);
    await holder.open();
    try {
      const bot = botFor(ctx.api);
      const handle = webhook(bot, { secretToken: SECRET, silent: true, journal: fileJournal(dir) });
      const url = await listen(handle.callback("http"));
      expect((await post(url, message(1), SECRET)).status).toBe(503);
      await until(() => handle.task() !== undefined);
      await expect(handle.task()).rejects.toThrow();
      expect(handle.isRunning()).toBe(false);
    } finally {
      await holder.close();
    }
  });
});

const BOT_FIXTURE = fileURLToPath(
  new URL("../fixtures/.build/webhook-journal-bot.cjs", import.meta.url),
);

describe("a webhook bot process killed with SIGKILL during a flood", () => {
  it("loses nothing across 4 kills: what was stored is replayed on restart", async () => {
    const { api } = ctx;
    const pushed: number[] = [];
    const push = (count: number) => {
      for (const u of api.pushMessages({ count, chats: 25 })) pushed.push(u.update_id);
    };
    const replies = () => {
      const byId = new Map<number, string[]>();
      for (const call of api.calls("sendMessage")) {
        const [id, flag] = String(call.params.text).split(" ");
        byId.set(Number(id), [...(byId.get(Number(id)) ?? []), flag ?? "fresh"]);
      }
      return byId;
    };
    const start = (): { child: ChildProcess; exited: Promise<number | null>; stderr: string[] } => {
      const stderr: string[] = [];
      const child = fork(BOT_FIXTURE, [], {
        execArgv: [],
        stdio: ["ignore", "ignore", "pipe", "ipc"],
        env: {
          ...process.env,
          WEBHOOK_BOT_API: api.url,
          WEBHOOK_BOT_TOKEN: api.token,
          WEBHOOK_BOT_DIR: dir,
          WEBHOOK_BOT_SECRET: SECRET,
        },
      });
      child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      return { child, exited, stderr };
    };

    let storedAtKills = 0;
    for (let round = 0; round < 4; round++) {
      push(80);
      const answeredBefore = api.stats.webhookAnswered;
      const { child, exited } = start();
      // A random moment once updates are stored (answered) and some are not handled yet.
      await api.waitFor((a) => a.stats.webhookAnswered > answeredBefore + 5, 15_000);
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      storedAtKills += api.stats.webhookAnswered - replies().size;
      child.kill("SIGKILL");
      expect(await exited).toBeNull();
    }

    push(40);
    const last = start();
    await until(() => pushed.every((id) => replies().has(id)), 30_000);
    const stopped = new Promise<unknown>((resolve) => last.child.once("message", resolve));
    last.child.send("stop");
    expect(await stopped).toMatchObject({ stopped: true });
    expect(await last.exited).toBe(0);
    expect(last.stderr.join("")).toBe("");

    const replied = replies();
    const lost = pushed.filter((id) => !replied.has(id));
    const replayed = [...replied.values()].filter((flags) => flags.includes("replayed")).length;
    const duplicated = [...replied.values()].filter((flags) => flags.length > 1).length;
    console.log(
      `webhook kill test: ${pushed.length} updates, 4 kills, lost ${lost.length}, replayed ${replayed}, duplicated ${duplicated}, Telegram re-sends ${api.stats.webhookResends}`,
    );
    expect(lost).toEqual([]);
    // Updates answered to Telegram but unhandled at a kill came back only from the journal.
    expect(storedAtKills).toBeGreaterThan(0);
    expect(replayed).toBeGreaterThan(0);
    expect(await leftIn(dir)).toEqual([]);
  }, 90_000);
});
