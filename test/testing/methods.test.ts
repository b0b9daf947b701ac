import { describe, expect, it } from "vitest";
import { call, closeAfterEach, newBot, start } from "./harness.js";

closeAfterEach();

describe("methods", () => {
  it("records bot.api.sendMessage and answers with a Message", async () => {
    const api = await start();
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

  it("blocks getUpdates while a webhook is set, until deleteWebhook", async () => {
    const api = await start();
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
