import { Bot, GrammyError, HttpError, InputFile } from "grammy";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeBotApi, type FakeBotApi, type Update } from "../../src/testing/index.js";

let api: FakeBotApi;
const extra: FakeBotApi[] = [];

afterEach(async () => {
  await api?.close();
  await Promise.all(extra.splice(0).map((other) => other.close()));
});

async function start(options?: Parameters<typeof createFakeBotApi>[0]): Promise<FakeBotApi> {
  api = await createFakeBotApi(options);
  return api;
}

interface Answer {
  status: number;
  type: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for JSON bodies
  body: any;
}

/** A Bot API request with plain fetch. */
async function call(method: string, params?: object, init?: RequestInit): Promise<Answer> {
  const res = await fetch(`${api.url}/bot${api.token}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: params === undefined ? undefined : JSON.stringify(params),
    ...init,
  });
  const text = await res.text();
  const type = res.headers.get("content-type");
  return { status: res.status, type, body: type === "application/json" ? JSON.parse(text) : text };
}

const ids = (updates: Update[]) => updates.map((u) => u.update_id);

function newBot(): Bot {
  return new Bot(api.token, { client: { apiRoot: api.url } });
}

describe("basics", () => {
  it("serves getMe to grammY's bot.init() with botInfo merged over the default", async () => {
    await start({
      token: "4242:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi",
      botInfo: { username: "echo_bot" },
    });
    const bot = newBot();
    await bot.init();
    expect(bot.botInfo).toEqual(api.botInfo);
    expect(bot.botInfo).toMatchObject({
      id: 4242,
      is_bot: true,
      first_name: "Test Bot",
      username: "echo_bot",
    });
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(api.stats.methodCalls).toEqual({ getMe: 1 });
  });

  it("answers 401 for a wrong token and 404 for unknown paths, as JSON", async () => {
    await start();
    const wrong = await fetch(`${api.url}/bot1:WRONG_TOKEN_xxxxxxxxxxxxxxxxxxxxxxx/getMe`, {
      method: "POST",
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("content-type")).toBe("application/json");
    expect(await wrong.json()).toEqual({ ok: false, error_code: 401, description: "Unauthorized" });
    const unknown = await fetch(`${api.url}/nothing/here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ ok: false, error_code: 404 });
    expect(api.stats.methodCalls).toEqual({});
  });

  it("records bot.api.sendMessage and answers with a Message", async () => {
    await start();
    const bot = newBot();
    const first = await bot.api.sendMessage(7, "hi", { parse_mode: "HTML" });
    const second = await bot.api.sendMessage(-100, "there");
    expect(first).toMatchObject({
      chat: { id: 7, type: "private" },
      text: "hi",
      from: { id: api.botInfo.id },
    });
    expect(second.message_id).toBeGreaterThan(first.message_id);
    expect(second.chat.type).not.toBe("private");
    const calls = api.calls("sendMessage");
    expect(calls.map((c) => c.params)).toEqual([
      { chat_id: 7, text: "hi", parse_mode: "HTML" },
      { chat_id: -100, text: "there" },
    ]);
    expect(calls[0].at).toBeLessThanOrEqual(Date.now());
    expect(await bot.api.answerCallbackQuery("q")).toBe(true);
    expect(api.calls().map((c) => c.method)).toEqual([
      "sendMessage",
      "sendMessage",
      "answerCallbackQuery",
    ]);
  });

  it("records multipart uploads with their fields and file names", async () => {
    await start();
    await newBot().api.sendPhoto(5, new InputFile(Buffer.from("abc"), "cat.jpg"), {
      caption: "Grüße",
    });
    const [{ params }] = api.calls("sendPhoto");
    expect(params).toMatchObject({ chat_id: 5, caption: "Grüße" });
    expect(Object.values(params)).toContainEqual({ filename: "cat.jpg", size: 3 });
  });

  it("validates options and faults with clear errors", async () => {
    await expect(createFakeBotApi({ tokn: "1:A" } as never)).rejects.toThrow(
      /Did you mean `token`/,
    );
    await expect(createFakeBotApi({ token: "nope" })).rejects.toThrow(/options\.token/);
    await start();
    expect(() => api.inject({ type: "http", status: 42 })).toThrow(/fault\.status/);
    // 1xx is an interim response in Node: the client would wait for good.
    expect(() => api.inject({ type: "http", status: 103 })).toThrow(
      /fault\.status.*from 200 to 599.*103/,
    );
    expect(() => api.inject({ type: "result", value: { big: 1n } })).toThrow(
      /fault\.value` must be JSON-serializable/,
    );
    expect(() => api.inject({ type: "boom" } as never)).toThrow(/fault\.type/);
    expect(() => api.inject({ type: "drop" }, { times: 0 })).toThrow(/options\.times/);
  });
});

describe("getUpdates", () => {
  it("numbers updates from 1, confirms by offset and clamps limit", async () => {
    await start();
    const pushed = api.pushMessages({ count: 150 });
    expect(ids(pushed.slice(0, 3))).toEqual([1, 2, 3]);
    expect(api.pushUpdate({ update_id: 500, message: pushed[0].message }).update_id).toBe(500);
    expect(api.pushMessage(1).update_id).toBe(501);
    expect(api.pending()).toBe(152);

    const two = await call("getUpdates", { limit: 2 });
    expect(ids(two.body.result)).toEqual([1, 2]);
    const many = await call("getUpdates", { offset: 3, limit: 1000 });
    expect(many.body.result).toHaveLength(100);
    expect(many.body.result[0].update_id).toBe(3);
    expect(api.stats.confirmedOffset).toBe(3);
    expect(api.pending()).toBe(150);
    const rest = await call("getUpdates", { offset: 151 });
    expect(ids(rest.body.result)).toEqual([500, 501]);
    await call("getUpdates", { offset: 502 });
    expect(api.pending()).toBe(0);
    expect(api.calls("getUpdates")).toEqual([
      { method: "getUpdates", params: { offset: 502 }, at: expect.any(Number) },
    ]);
  });

  it("keeps only the last N updates for offset -N", async () => {
    await start();
    api.pushMessages({ count: 10 });
    const answer = await call("getUpdates", { offset: -3 });
    expect(ids(answer.body.result)).toEqual([8, 9, 10]);
    expect(api.pending()).toBe(3);
  });

  it("answers a held long poll as soon as updates are pushed, batching one tick's pushes", async () => {
    await start();
    const events: string[] = [];
    const poll = call("getUpdates", { timeout: 30 }).then((answer) => {
      events.push("answered");
      return answer;
    });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    await call("getMe"); // a full round trip while the poll is held
    expect(events).toEqual([]);
    events.push("pushed");
    api.pushMessage(1, "a");
    api.pushMessage(2, "b");
    const answer = await poll;
    expect(events).toEqual(["pushed", "answered"]);
    expect(answer.body.result.map((u: Update) => u.message?.text)).toEqual(["a", "b"]);
  });

  it("answers [] when the long poll timeout elapses", async () => {
    await start();
    const answer = await call("getUpdates", { timeout: 0.05 });
    expect(answer.body).toEqual({ ok: true, result: [] });
    api.pushMessage(1);
    expect(api.stats.delivered).toBe(0);
  });

  it("releases a held poll when the client aborts", async () => {
    await start();
    const controller = new AbortController();
    const poll = call("getUpdates", { timeout: 30 }, { signal: controller.signal });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    controller.abort();
    await expect(poll).rejects.toThrow(/abort/i);
    await call("getMe");
    api.pushMessage(1);
    const next = await call("getUpdates", {});
    expect(next.status).toBe(200);
    expect(ids(next.body.result)).toEqual([1]);
    // Had the aborted poll still been held, it would have taken the update first.
    expect(api.stats).toMatchObject({ delivered: 1, redelivered: 0, maxConcurrentPolls: 1 });
  });

  it("ends the held poll with 409 when a second getUpdates arrives", async () => {
    await start();
    const first = call("getUpdates", { timeout: 30 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const second = call("getUpdates", { timeout: 30 });
    const conflict = await first;
    expect(conflict.status).toBe(409);
    expect(conflict.body.description).toBe(
      "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    );
    api.pushMessage(1);
    expect(ids((await second).body.result)).toEqual([1]);
    expect(api.stats.maxConcurrentPolls).toBe(2);
  });

  it("filters by allowed_updates, which persists until changed, skipping the rest", async () => {
    await start();
    api.pushMessage(1);
    api.pushCallbackQuery({ fromId: 1, data: "x" });
    api.pushEditedMessage(1, 1, "edited");
    const callbacks = await call("getUpdates", { allowed_updates: ["callback_query"] });
    expect(callbacks.body.result.map((u: Update) => u.callback_query?.data)).toEqual(["x"]);
    expect(api.pending()).toBe(1);
    api.pushMessage(1);
    api.pushCallbackQuery({ fromId: 2 });
    const again = await call("getUpdates", { offset: 3 });
    expect(ids(again.body.result)).toEqual([5]);
    // Back to Telegram's default: everything but chat_member and reactions.
    api.pushUpdate({ chat_member: {} as never });
    api.pushMessage(3);
    const defaults = await call("getUpdates", { offset: 6, allowed_updates: [] });
    expect(ids(defaults.body.result)).toEqual([7]);
  });

  it("counts deliveries and redeliveries", async () => {
    await start();
    api.pushMessages({ count: 3 });
    await call("getUpdates", { limit: 2 });
    await call("getUpdates", {});
    expect(api.stats).toMatchObject({ delivered: 5, redelivered: 2, getUpdatesCalls: 2 });
    await call("getUpdates", { offset: 4 });
    expect(api.stats).toMatchObject({ delivered: 5, redelivered: 2, confirmedOffset: 4 });
    expect(api.stats.methodCalls).toEqual({ getUpdates: 3 });
    api.resetCalls();
    expect(api.stats).toMatchObject({
      delivered: 0,
      getUpdatesCalls: 0,
      confirmedOffset: 4,
      methodCalls: {},
    });
  });

  it("delivers raw values as-is and confirms them with the update before them", async () => {
    await start();
    api.pushMessage(1);
    api.pushRaw({});
    api.pushRaw({ update_id: "x" });
    api.pushRaw({ update_id: 10, message: { text: "raw" } });
    expect(api.pushMessage(1).update_id).toBe(11);
    const answer = await call("getUpdates", {});
    expect(answer.body.result.slice(1, 3)).toEqual([{}, { update_id: "x" }]);
    await call("getUpdates", { offset: 2 });
    expect(api.pending()).toBe(2);
  });

  it("forgets the oldest updates beyond maxUpdates", async () => {
    await start({ maxUpdates: 3 });
    api.pushMessages({ count: 5 });
    expect(api.pending()).toBe(3);
    expect(ids((await call("getUpdates", {})).body.result)).toEqual([3, 4, 5]);
  });

  it("drains 20k updates in order without redelivery", async () => {
    await start();
    api.pushMessages({ count: 20_000, chats: 50 });
    let offset = 0;
    let seen = 0;
    while (seen < 20_000) {
      const result: Update[] = (await call("getUpdates", { offset, limit: 100 })).body.result;
      expect(result).toHaveLength(100);
      for (const update of result) expect(update.update_id).toBe(++seen);
      offset = seen + 1;
    }
    await call("getUpdates", { offset });
    expect(api.pending()).toBe(0);
    expect(api.stats).toMatchObject({ delivered: 20_000, redelivered: 0, confirmedOffset: 20_001 });
  });
});

describe("webhooks", () => {
  it("blocks getUpdates while a webhook is set, until deleteWebhook", async () => {
    await start();
    api.pushMessages({ count: 2 });
    const held = call("getUpdates", { offset: 3, timeout: 30 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const bot = newBot();
    await bot.api.setWebhook("https://example.com/hook");
    expect((await held).status).toBe(409);
    expect(await bot.api.getWebhookInfo()).toEqual({
      url: "https://example.com/hook",
      has_custom_certificate: false,
      pending_update_count: 0,
    });
    api.pushMessage(1);
    const blocked = await call("getUpdates", {});
    expect(blocked.body).toEqual({
      ok: false,
      error_code: 409,
      description:
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    });
    await bot.api.deleteWebhook({ drop_pending_updates: true });
    expect(api.pending()).toBe(0);
    api.pushMessage(1);
    expect((await call("getUpdates", {})).body.result).toHaveLength(1);
  });
});

describe("faults", () => {
  it("answers http, 401, 409 and 429 faults in order, then normally", async () => {
    await start();
    api.pushMessage(1);
    api.inject({ type: "http", status: 502 });
    api.inject({ type: "http", status: 500, description: "boom" }, { times: 2 });
    api.inject({ type: "unauthorized" });
    api.inject({ type: "conflict" });
    api.inject({ type: "retry_after", seconds: 3 });
    const answers: Answer[] = [];
    for (let i = 0; i < 7; i++) answers.push(await call("getUpdates", { offset: 1 }));
    expect(answers.map((a) => [a.status, a.body.description])).toEqual([
      [502, "Bad Gateway"],
      [500, "boom"],
      [500, "boom"],
      [401, "Unauthorized"],
      [409, expect.stringMatching(/^Conflict: terminated by other getUpdates request/)],
      [429, "Too Many Requests: retry after 3"],
      [200, undefined],
    ]);
    expect(answers[5].body.parameters).toEqual({ retry_after: 3 });
    expect(ids(answers[6].body.result)).toEqual([1]);
    expect(api.stats).toMatchObject({ getUpdatesCalls: 7, delivered: 1 });
  });

  it("applies faults only to their method and surfaces them as grammY errors", async () => {
    await start();
    const bot = newBot();
    api.inject({ type: "retry_after", seconds: 5 }, { method: "sendMessage" });
    expect(await bot.api.getMe()).toEqual(api.botInfo);
    const error = await bot.api.sendMessage(1, "x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrammyError);
    expect((error as GrammyError).parameters.retry_after).toBe(5);
    await expect(bot.api.sendMessage(1, "y")).resolves.toMatchObject({ text: "y" });
    expect(api.calls("sendMessage")).toHaveLength(2);
  });

  it("answers non-JSON, arbitrary results and dropped connections", async () => {
    await start();
    api.inject({ type: "non_json" });
    api.inject({ type: "result", value: null });
    api.inject({ type: "result", value: [{}] });
    api.inject({ type: "drop" }, { method: "getMe" });
    const html = await call("getUpdates", {});
    expect([html.status, html.type, html.body]).toEqual([200, "text/html", "<html>oops</html>"]);
    expect((await call("getUpdates", {})).body).toEqual({ ok: true, result: null });
    expect((await call("getUpdates", {})).body).toEqual({ ok: true, result: [{}] });
    await expect(newBot().api.getMe()).rejects.toBeInstanceOf(HttpError);
    expect(api.stats.methodCalls.getMe).toBe(1);
  });

  it("delays an answer without changing it", async () => {
    await start();
    api.pushMessage(1);
    api.inject({ type: "delay", ms: 50 });
    const order: string[] = [];
    const slow = call("getUpdates", {}).then((a) => order.push(`slow ${a.body.result.length}`));
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    await call("getMe").then(() => order.push("getMe"));
    await slow;
    expect(order).toEqual(["getMe", "slow 1"]);
  });
});

describe("with a real bot", () => {
  it("runs bot.start() against the fake: commands, replies, confirmation, stop", async () => {
    await start();
    const bot = newBot();
    bot.command("start", (ctx) => ctx.reply(`welcome ${ctx.from?.id}`));
    bot.on("message:text", (ctx) => ctx.reply(ctx.message.text.toUpperCase()));
    api.pushMessage(7, "/start");
    api.pushMessage(7, "hello");
    void bot.start({ timeout: 30, drop_pending_updates: false });
    await api.waitFor((a) => a.calls("sendMessage").length === 2);
    await bot.stop();
    expect(api.calls("sendMessage").map((c) => c.params)).toEqual([
      { chat_id: 7, text: "welcome 7" },
      { chat_id: 7, text: "HELLO" },
    ]);
    expect(api.stats.confirmedOffset).toBe(3);
    expect(api.pending()).toBe(0);
  });

  it("spreads pushMessages over chats and users", async () => {
    await start();
    const privateChats = api.pushMessages({ count: 4, chats: 2, firstChatId: 10 });
    expect(
      privateChats.map((u) => [u.message?.chat.id, u.message?.from.id, u.message?.text]),
    ).toEqual([
      [10, 10, "msg 0"],
      [11, 11, "msg 1"],
      [10, 10, "msg 2"],
      [11, 11, "msg 3"],
    ]);
    const groups = api.pushMessages({ count: 3, chats: 1, users: 2, text: (i) => `t${i}` });
    expect(groups.map((u) => [u.message?.chat.type, u.message?.from.id, u.message?.text])).toEqual([
      ["group", 1, "t0"],
      ["group", 2, "t1"],
      ["group", 1, "t2"],
    ]);
  });
});

describe("waitFor and close", () => {
  it("waitFor also sees conditions on the bot's side, which the server cannot see change", async () => {
    await start();
    let handled = 0;
    const waiting = api.waitFor(() => handled === 1, 2_000);
    setTimeout(() => {
      handled = 1;
    }, 30);
    await expect(waiting).resolves.toBeUndefined();
  });

  it("waitFor sees updates dropped by a held poll's allowed_updates", async () => {
    await start();
    const poll = call("getUpdates", { allowed_updates: ["message"], timeout: 5 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    api.pushCallbackQuery({ fromId: 1, data: "skipped" });
    await api.waitFor((a) => a.pending() === 0, 2_000);
    api.pushMessage(1);
    expect(ids((await poll).body.result)).toEqual([2]);
  });

  it("never crashes on odd input: a request it cannot handle gets a 400", async () => {
    await start();
    const odd = await call("sendMessage", { chat_id: { toString: 1 }, text: "x" });
    expect(odd.status).toBe(400);
    expect(odd.body).toMatchObject({ ok: false, error_code: 400 });
    // A parameter named __proto__ is not taken for the object's prototype.
    const proto = await fetch(
      `${api.url}/bot${api.token}/getUpdates?__proto__=${encodeURIComponent('{"offset":5}')}`,
    );
    expect(proto.status).toBe(200);
    expect(api.stats.confirmedOffset).toBe(0);
    // A method named like an Object.prototype member is counted like any other.
    await call("constructor");
    expect(api.stats.methodCalls.constructor).toBe(1);
    expect((await call("getMe")).status).toBe(200);
  });

  it("waitFor resolves on a state change and rejects with the predicate after a timeout", async () => {
    await start();
    const waiting = api.waitFor((a) => a.pending() === 2);
    api.pushMessage(1);
    api.pushMessage(1);
    await expect(waiting).resolves.toBeUndefined();
    await expect(api.waitFor((a) => a.pending() === 99, 20)).rejects.toThrow(
      /within 20 ms: \(a\) => a\.pending\(\) === 99 \(pending 2/,
    );
  });

  it("close() ends held polls and waiters, frees the port and is idempotent", async () => {
    const servers = () =>
      process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;
    const before = servers();
    await start();
    expect(servers()).toBe(before + 1);
    const poll = call("getUpdates", { timeout: 30 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const waiting = api.waitFor(() => false);
    const closing = api.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(poll).rejects.toThrow();
    await closing;
    await api.close();
    expect(servers()).toBe(before);
    await expect(fetch(`${api.url}/bot${api.token}/getMe`)).rejects.toThrow();
  });
});
