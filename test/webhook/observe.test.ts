import { describe, expect, it } from "vitest";
import { webhook } from "../../src/index.js";
import { botFor, failOnUnhandled } from "../helpers/bot.js";
import { listen, SECRET, useWebhookApi } from "../helpers/webhook.js";

const ctx = useWebhookApi();
failOnUnhandled();

describe("webhook handle.observe()", () => {
  it("reports every handler duration, as run()'s handle does, until detached", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    bot.on("message", () => {});
    const handle = webhook(bot, { secretToken: SECRET, silent: true });
    const durations: number[] = [];
    const detach = handle.observe({ handled: (seconds) => void durations.push(seconds) });
    const url = await listen(handle.callback("http"));
    await bot.api.setWebhook(url, { secret_token: SECRET });
    api.pushMessages({ count: 30, chats: 5 });
    await api.waitFor((a) => a.stats.webhookAnswered === 30);
    expect(durations).toHaveLength(30);
    expect(durations.every((s) => s >= 0 && s < 10)).toBe(true);
    expect(handle.stats().slotsFree).toBe(500);
    detach();
    api.pushMessages({ count: 5, chats: 5 });
    await api.waitFor((a) => a.stats.webhookAnswered === 35);
    expect(durations).toHaveLength(30);
    await handle.stop();
  });
});
