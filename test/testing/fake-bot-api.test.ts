import { describe, expect, it } from "vitest";
import { createFakeBotApi } from "../../src/testing/index.js";
import { closeAfterEach, newBot, start } from "./harness.js";

closeAfterEach();

describe("createFakeBotApi", () => {
  it("serves getMe to grammY's bot.init() with botInfo merged over the default", async () => {
    const api = await start({
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

  it("validates its options with clear errors", async () => {
    await expect(createFakeBotApi({ tokn: "1:A" } as never)).rejects.toThrow(
      /Did you mean `token`/,
    );
    await expect(createFakeBotApi({ token: "nope" })).rejects.toThrow(/options\.token/);
    await expect(createFakeBotApi({ maxUpdates: 0 })).rejects.toThrow(/options\.maxUpdates/);
  });

  it("runs bot.start() against the fake: commands, replies, confirmation, stop", async () => {
    const api = await start();
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
});
