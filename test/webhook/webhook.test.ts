import { describe, expect, it, vi } from "vitest";
import { run, sequentialize, updateSignal, webhook } from "../../src/index.js";
import { botFor, failOnUnhandled, gate, until } from "../helpers/bot.js";
import { listen, message, post, SECRET, useWebhookApi } from "../helpers/webhook.js";

const ctx = useWebhookApi();
failOnUnhandled();

describe("webhook() fed by the fake server's delivery", () => {
  it("handles every update once, with the secret, answering each so Telegram sends no re-send", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen: number[] = [];
    bot.on("message", (c) => void seen.push(c.update.update_id));
    const handle = webhook(bot, { secretToken: SECRET, silent: true });
    const url = await listen(handle.callback("http"));
    await bot.api.setWebhook(url, { secret_token: SECRET });
    const updates = api.pushMessages({ count: 200, chats: 20 });
    await api.waitFor((a) => a.stats.webhookAnswered === 200);
    expect(seen.sort((a, b) => a - b)).toEqual(updates.map((u) => u.update_id));
    expect(api.stats.webhookResends).toBe(0);
    expect(api.stats.webhookFailures).toBe(0);
    const stats = handle.stats();
    expect(stats.handled).toBe(200);
    expect(stats.webhook.accepted).toBe(200);
    await handle.stop();
    expect(handle.isRunning()).toBe(false);
  });

  it("keeps per-chat order and lets quiet chats through while one chat floods (cap 2, parking)", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const flood = gate();
    const floodOrder: number[] = [];
    const quiet = new Set<number>();
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async (c) => {
      if (c.chat.id === 1) {
        await flood.promise;
        floodOrder.push(c.update.update_id);
      } else quiet.add(c.chat.id);
    });
    const handle = webhook(bot, { secretToken: SECRET, silent: true, sink: { concurrency: 2 } });
    const url = await listen(handle.callback("http"));
    // Updates POSTed by hand: the fake server would send the chat's next only after an answer.
    // Ids far above those the fake server assigns, which the dedup window would drop.
    const floodIds = Array.from({ length: 20 }, (_, i) => 1_001 + i);
    const answers = floodIds.map((id) => post(url, message(id, 1), SECRET));
    await until(() => handle.stats().parked === 19);
    await bot.api.setWebhook(url, { secret_token: SECRET });
    api.pushMessages({ count: 10, chats: 10, firstChatId: 100 });
    await until(() => quiet.size === 10);
    expect(floodOrder).toEqual([]);
    flood.open();
    expect((await Promise.all(answers)).map((a) => a.status)).toEqual(floodIds.map(() => 200));
    expect(floodOrder).toEqual(floodIds);
    await handle.stop();
  });

  it("answers after answerAfter while a slow handler runs, so Telegram does not re-send", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const slow = gate();
    let done = 0;
    bot.on("message", async () => {
      await slow.promise;
      done++;
    });
    const handle = webhook(bot, { secretToken: SECRET, silent: true, answerAfter: 100 });
    const url = await listen(handle.callback("http"));
    await bot.api.setWebhook(url, { secret_token: SECRET });
    api.pushMessages({ count: 3, chats: 1 });
    // The fake Telegram waits 2 s; the handler is held far longer than 3 × 100 ms.
    await api.waitFor((a) => a.stats.webhookAnswered === 3);
    expect(done).toBe(0);
    expect(handle.stats().webhook.answeredEarly).toBe(3);
    expect(api.stats.webhookResends).toBe(0);
    slow.open();
    await handle.stop();
    expect(done).toBe(3);
  });

  it("gives sink.timeout's signal and bot.catch the same behaviour as run()", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const errors: number[] = [];
    let aborted = false;
    bot.command("fail", () => {
      throw new Error("boom");
    });
    bot.command("hang", async (c) => {
      const signal = updateSignal(c);
      await new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve()));
      aborted = signal?.aborted === true;
    });
    bot.catch((e) => void errors.push(e.ctx.update.update_id));
    const timedOut: number[] = [];
    const handle = webhook(bot, {
      secretToken: SECRET,
      silent: true,
      sink: { timeout: { milliseconds: 50, handler: (u) => void timedOut.push(u.update_id) } },
    });
    const url = await listen(handle.callback("http"));
    await bot.api.setWebhook(url, { secret_token: SECRET });
    const failing = api.pushMessage(1, "/fail");
    const hanging = api.pushMessage(2, "/hang");
    await api.waitFor((a) => a.stats.webhookAnswered === 2);
    await until(() => aborted);
    expect(errors).toEqual([failing.update_id]);
    expect(timedOut).toEqual([hanging.update_id]);
    expect(handle.stats()).toMatchObject({ failed: 1, timedOut: 1 });
    expect(api.stats.webhookFailures).toBe(0);
    await handle.stop();
  });

  it("switches from webhook to polling and back without losing an update", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = new Set<number>();
    bot.on("message", (c) => void seen.add(c.update.update_id));
    const handle = webhook(bot, { secretToken: SECRET, silent: true });
    const url = await listen(handle.callback("http"));
    await handle.setWebhook(url, { max_connections: 5, allowed_updates: ["message"] });
    expect(api.calls("setWebhook")[0].params).toEqual({
      url,
      secret_token: SECRET,
      max_connections: 5,
      allowed_updates: ["message"],
    });
    api.pushMessages({ count: 5 });
    await until(() => seen.size === 5);
    await handle.stop();
    // Updates sent while the webhook is still set; polling deletes it on 409 and gets them.
    api.pushMessages({ count: 5 });
    const polling = run(bot, { runner: { silent: true } });
    await until(() => seen.size === 10);
    await polling.stop();
    expect(api.stats.methodCalls.deleteWebhook).toBe(1);
    const again = webhook(bot, { secretToken: SECRET, silent: true });
    const url2 = await listen(again.callback("http"));
    api.pushMessages({ count: 5 });
    await again.setWebhook(url2);
    await until(() => seen.size === 15);
    await again.stop();
  });

  it("validates setWebhook's options", async () => {
    const handle = webhook(botFor(ctx.api), { secretToken: SECRET });
    await expect(handle.setWebhook("ftp://x")).rejects.toThrow(/http\(s\) URL/);
    await expect(handle.setWebhook("https://x", { max_connections: 101 })).rejects.toThrow(
      /max_connections/,
    );
    await expect(handle.setWebhook("https://x", { secret_token: "x" } as never)).rejects.toThrow(
      /Unknown option `setWebhook.secret_token`/,
    );
    expect(ctx.api.calls("setWebhook")).toEqual([]);
  });
});

describe("webhook() refuses bad requests before any handler", () => {
  it("answers 401, 405, 413 and 400, never calling the bot", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const handled = vi.fn();
    bot.on("message", handled);
    const handle = webhook(bot, { secretToken: SECRET, silent: true, maxBodySize: 1_000 });
    const url = await listen(handle.callback("http"));
    expect((await post(url, message(1), "wrong")).status).toBe(401);
    expect((await post(url, message(1), `${SECRET}x`)).status).toBe(401);
    expect((await post(url, message(1))).status).toBe(401);
    expect((await post(url, undefined, SECRET, { method: "GET" })).status).toBe(405);
    expect((await post(url, undefined, SECRET, { method: "PUT", raw: "{}" })).status).toBe(405);
    const big = { ...message(1), message: { ...message(1).message, text: "x".repeat(2_000) } };
    expect((await post(url, big, SECRET)).status).toBe(413);
    expect((await post(url, undefined, SECRET, { raw: "{not json" })).status).toBe(400);
    expect((await post(url, { message: {} }, SECRET)).status).toBe(400);
    expect((await post(url, { update_id: 1.5 }, SECRET)).status).toBe(400);
    expect((await post(url, [1], SECRET)).status).toBe(400);
    expect(handled).not.toHaveBeenCalled();
    expect(handle.stats().webhook).toMatchObject({
      unauthorized: 3,
      wrongMethod: 2,
      tooLarge: 1,
      badRequests: 4,
      accepted: 0,
    });
    // The server still serves good requests after all that.
    expect((await post(url, message(7), SECRET)).status).toBe(200);
    await until(() => handled.mock.calls.length === 1);
    await handle.stop();
  });

  it("warns at start without a secret, unless silent, and then accepts any request", async () => {
    const { api } = ctx;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const loud = webhook(botFor(api));
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/no secretToken/);
      webhook(botFor(api), { silent: true });
      expect(warn).toHaveBeenCalledTimes(1);
      const url = await listen(loud.callback("http"));
      expect((await post(url, message(1))).status).toBe(200);
      await loud.stop();
    } finally {
      warn.mockRestore();
    }
  });

  it("validates its options and the adapter name", () => {
    const bot = botFor(ctx.api);
    expect(() => webhook(bot, { secretToken: "no spaces" })).toThrow(/secretToken/);
    expect(() => webhook(bot, { secretToken: "x".repeat(257) })).toThrow(/257 characters/);
    expect(() => webhook(bot, { answerAfter: -1 } as never)).toThrow(/answerAfter/);
    expect(() => webhook(bot, { maxBodySize: 0 })).toThrow(/maxBodySize/);
    expect(() => webhook(bot, { secretToken: SECRET, sink: { concurrency: 0 } })).toThrow(
      /concurrency/,
    );
    expect(() => webhook(bot, { secret: "x" } as never)).toThrow(/Unknown option `secret`/);
    expect(() => webhook({} as never)).toThrow(/handleUpdate/);
    const handle = webhook(bot, { secretToken: SECRET });
    expect(() => handle.callback("koa" as never)).toThrow(/Unknown webhook adapter "koa"/);
  });
});

describe("webhook() re-sends, backpressure and stop", () => {
  it("answers 503 while bot.init() fails, and retries it on the next request", async () => {
    const { api } = ctx;
    // A 4xx: grammY's init() retries 5xx and network errors by itself, holding the request.
    api.inject({ type: "http", status: 400 }, { method: "getMe", times: Infinity });
    const bot = botFor(api);
    const seen: number[] = [];
    bot.on("message", (c) => void seen.push(c.update.update_id));
    const handle = webhook(bot, { secretToken: SECRET, silent: true });
    const url = await listen(handle.callback("http"));
    expect((await post(url, message(1), SECRET)).status).toBe(503);
    expect(seen).toEqual([]);
    api.clearFaults();
    expect((await post(url, message(1), SECRET)).status).toBe(200);
    expect(seen).toEqual([1]);
    expect(handle.stats().webhook.refused).toBe(1);
    await handle.stop();
  });

  it("handles a re-sent update once", async () => {
    const bot = botFor(ctx.api);
    const seen: number[] = [];
    bot.on("message", (c) => void seen.push(c.update.update_id));
    const handle = webhook(bot, { secretToken: SECRET, silent: true });
    const url = await listen(handle.callback("http"));
    const answers = await Promise.all([1, 1, 2, 1].map((id) => post(url, message(id), SECRET)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(seen.sort()).toEqual([1, 2]);
    expect(handle.stats().webhook.duplicates).toBe(2);
    await handle.stop();
  });

  it("holds requests open while the cap and the parking cap are full, and never buffers beyond them", async () => {
    const bot = botFor(ctx.api);
    const release = gate();
    let started = 0;
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async () => {
      started++;
      await release.promise;
    });
    const handle = webhook(bot, {
      secretToken: SECRET,
      silent: true,
      answerAfter: 60_000,
      sink: { concurrency: 2, maxParked: 1 },
    });
    const url = await listen(handle.callback("http"));
    let answered = 0;
    const answers = [1, 2, 3, 4, 5, 6].map((id) =>
      post(url, message(id, id <= 3 ? 1 : id), SECRET).then((a) => {
        answered++;
        return a.status;
      }),
    );
    // Chat 1: update 1 runs, 2 parks; 3 must wait for room (parking full), 4-6 behind it.
    await until(() => started === 1 && handle.size() === 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(handle.size()).toBe(2);
    expect(answered).toBe(0);
    release.open();
    expect(await Promise.all(answers)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(started).toBe(6);
    await handle.stop();
  });

  it("stop() refuses new updates with 503 (so Telegram sends them again later) and drains running handlers", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const slow = gate();
    const seen = new Set<number>();
    bot.on("message", async (c) => {
      await slow.promise;
      seen.add(c.update.update_id);
    });
    const handle = webhook(bot, { secretToken: SECRET, silent: true });
    const url = await listen(handle.callback("http"));
    const first = post(url, message(1), SECRET);
    await until(() => handle.size() === 1);
    let stopped = false;
    const stopping = handle.stop().then(() => {
      stopped = true;
    });
    expect((await post(url, message(2), SECRET)).status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    slow.open();
    await stopping;
    expect((await first).status).toBe(200);
    expect([...seen]).toEqual([1]);
    expect(handle.stats().webhook.refused).toBe(1);
    await expect(handle.task()).resolves.toBeUndefined();
  });
});
