import { describe, expect, it } from "vitest";
import { run, sequentialize } from "../../src/index.js";
import { botFor, failOnUnhandled, gate, until, useFakeApi } from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();

describe("run() with a real grammY bot", () => {
  it("handles every update and replies", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    bot.on("message:text", (c) => c.reply(`echo ${c.message.text}`));
    const updates = api.pushMessages({ count: 250, chats: 10 });
    const handle = run(bot);
    await api.waitFor((a) => a.calls("sendMessage").length === 250);
    await handle.stop();
    const texts = api.calls("sendMessage").map((c) => c.params.text);
    expect(new Set(texts).size).toBe(250);
    expect(api.stats.confirmedOffset).toBe(updates[updates.length - 1].update_id + 1);
    expect(handle.stats().handled).toBe(250);
  });

  it("calls bot.init() before the first fetch and onStart with the bot info", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen: string[] = [];
    const handle = run(bot, {
      runner: { onStart: (me) => void seen.push(`start ${me.username}`) },
    });
    await api.waitFor((a) => a.stats.getUpdatesCalls > 0);
    expect(seen).toEqual([`start ${api.botInfo.username}`]);
    expect(api.stats.methodCalls.getMe).toBe(1);
    expect(bot.isInited()).toBe(true);
    await handle.stop();
  });

  it("keeps per-chat order under sequentialize while chats run in parallel", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const order = new Map<number, number[]>();
    let running = 0;
    let peak = 0;
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async (c) => {
      running++;
      peak = Math.max(peak, running);
      // Later messages finish faster, so only sequentialize keeps them in order.
      const n = Number(c.message.text?.split(" ")[1]);
      await new Promise((r) => setTimeout(r, (300 - n) % 7));
      const list = order.get(c.chat.id) ?? [];
      list.push(c.message.message_id);
      order.set(c.chat.id, list);
      running--;
    });
    api.pushMessages({ count: 300, chats: 6 });
    const handle = run(bot);
    await until(() => [...order.values()].reduce((s, l) => s + l.length, 0) === 300);
    await handle.stop();
    for (const list of order.values()) {
      expect(list).toEqual([...list].sort((a, b) => a - b));
    }
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(6);
  });

  it("never runs more handlers than the concurrency cap, from the first fetch", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    let running = 0;
    let peak = 0;
    let done = 0;
    bot.on("message", async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
      done++;
    });
    api.pushMessages({ count: 120, chats: 120 });
    const handle = run(bot, { sink: { concurrency: 7 } });
    await until(() => done === 120);
    await handle.stop();
    expect(peak).toBe(7);
    expect(api.stats.delivered).toBe(120);
    expect(api.stats.redelivered).toBe(0);
  });

  it("sends middleware errors to bot.catch and goes on", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const caught: number[] = [];
    bot.catch((err) => void caught.push(err.ctx.update.update_id));
    bot.on("message", (c) => {
      if (c.message.message_id % 2 === 0) throw new Error("boom");
    });
    api.pushMessages({ count: 10 });
    const handle = run(bot);
    await until(() => handle.stats().handled === 10);
    await handle.stop();
    expect(caught.length).toBe(5);
    expect(handle.stats().failed).toBe(5);
  });

  it("survives an error handler that throws", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    bot.catch(() => {
      throw new Error("handler broke");
    });
    bot.on("message", () => {
      throw new Error("boom");
    });
    api.pushMessages({ count: 3 });
    const handle = run(bot, { runner: { silent: true } });
    await until(() => handle.stats().failed === 3);
    api.pushMessages({ count: 2 });
    await until(() => handle.stats().failed === 5);
    expect(handle.isRunning()).toBe(true);
    await handle.stop();
  });

  it("stop() ends the long poll at once and waits for running handlers", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const release = gate();
    let finished = 0;
    bot.on("message", async () => {
      await release.promise;
      finished++;
    });
    api.pushMessages({ count: 5, chats: 5 });
    const handle = run(bot);
    await until(() => handle.size() === 5);
    // The runner is now holding a long poll; stop must abort it.
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 2);
    let stopped = false;
    const stopping = handle.stop().then(() => {
      stopped = true;
    });
    expect(handle.isRunning()).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release.open();
    await stopping;
    expect(finished).toBe(5);
    // Handled updates were confirmed, so a restart would not see them again.
    expect(api.stats.confirmedOffset).toBe(6);
    await expect(handle.task()).resolves.toBeUndefined();
  });

  it("stops idle quickly and can be started again", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen: number[] = [];
    bot.on("message", (c) => void seen.push(c.message.message_id));
    const handle = run(bot);
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 1);
    await handle.stop();
    await handle.stop();
    expect(handle.isRunning()).toBe(false);
    api.pushMessages({ count: 3 });
    handle.start();
    expect(handle.isRunning()).toBe(true);
    await until(() => seen.length === 3);
    await handle.stop();
  });
});
