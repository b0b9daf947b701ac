import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { createFakeBotApi } from "../../src/testing/index.js";
import { botFor, failOnUnhandled, gate, until } from "../helpers/bot.js";
import { listen, useWebhookApi } from "../helpers/webhook.js";

const ctx = useWebhookApi(300);
failOnUnhandled();

interface Received {
  id: number;
  chat: number | undefined;
  secret: string | undefined;
  res: ServerResponse;
}

/** A webhook target that records requests and lets the test answer them. */
async function target(
  answer?: (r: Received) => void,
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const url = await listen((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const update = JSON.parse(Buffer.concat(chunks).toString());
      const r: Received = {
        id: update.update_id,
        chat: update.message?.chat?.id,
        secret: req.headers["x-telegram-bot-api-secret-token"] as string | undefined,
        res,
      };
      received.push(r);
      answer?.(r);
    });
  });
  return { url, received };
}

describe("the fake server's webhook delivery", () => {
  it("POSTs pending and new updates with the secret, one at a time per chat", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const early = api.pushMessages({ count: 4, chats: 2 });
    const { url, received } = await target();
    await bot.api.setWebhook(url, { secret_token: "abc" });
    // Chat 1's second update waits for its first answer; chat 2's first goes at once.
    await until(() => received.length === 2);
    expect(received.map((r) => r.id)).toEqual([early[0].update_id, early[1].update_id]);
    expect(received.every((r) => r.secret === "abc")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received.length).toBe(2);
    received[0].res.end();
    await until(() => received.length === 3);
    expect(received[2].id).toBe(early[2].update_id);
    for (const r of received.slice(1)) r.res.end();
    await until(() => received.length === 4);
    received[3].res.end();
    const late = api.pushMessage(9);
    await until(() => received.length === 5);
    expect(received[4].id).toBe(late.update_id);
    received[4].res.end();
    await api.waitFor((a) => a.stats.webhookAnswered === 5);
    expect(api.pending()).toBe(0);
    expect(api.stats).toMatchObject({
      webhookDeliveries: 5,
      webhookResends: 0,
      webhookFailures: 0,
    });
  });

  it("keeps at most max_connections requests open", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const { url, received } = await target();
    await bot.api.setWebhook(url, { max_connections: 3 });
    api.pushMessages({ count: 10, chats: 10 });
    await until(() => received.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received.length).toBe(3);
    let answered = 0;
    while (answered < 10) {
      await until(() => received.length > answered);
      received[answered++].res.end();
    }
    await api.waitFor((a) => a.stats.webhookAnswered === 10);
    expect(api.stats.webhookMaxConnections).toBe(3);
  });

  it("re-sends after a non-2xx answer, a timeout or a refused connection, with backoff", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    let calls = 0;
    const times: number[] = [];
    const { url } = await target((r) => {
      calls++;
      times.push(Date.now());
      if (calls === 1) r.res.writeHead(500).end();
      else if (calls === 2)
        return; // never answered: the 300 ms timeout
      else r.res.end();
    });
    await bot.api.setWebhook(url);
    api.pushMessage(1);
    await api.waitFor((a) => a.stats.webhookAnswered === 1);
    expect(api.stats).toMatchObject({
      webhookDeliveries: 3,
      webhookResends: 2,
      webhookFailures: 2,
    });
    // 20 ms after the first failure, then 40 ms after the timeout.
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(15);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(300 + 35);
    // Nobody listening: refused connections are re-sent too, until a webhook answers.
    await bot.api.setWebhook("http://127.0.0.1:1/bot");
    api.pushMessage(2);
    await api.waitFor((a) => a.stats.webhookFailures >= 4);
    await bot.api.setWebhook(url);
    await api.waitFor((a) => a.stats.webhookAnswered === 2);
  });

  it("gives undelivered updates back to polling on deleteWebhook, and drops them on drop_pending_updates", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const hold = gate();
    const { url, received } = await target((r) => void hold.promise.then(() => r.res.end()));
    await bot.api.setWebhook(url);
    const pushed = api.pushMessages({ count: 3, chats: 1 });
    await until(() => received.length === 1);
    await bot.api.deleteWebhook();
    expect(api.pending()).toBe(3);
    const polled = await bot.api.getUpdates({ offset: 0, timeout: 0 });
    expect(polled.map((u) => u.update_id)).toEqual(pushed.map((u) => u.update_id));
    await bot.api.setWebhook(url, { drop_pending_updates: true });
    expect(api.pending()).toBe(0);
    hold.open();
    // Another host is never contacted: updates stay pending.
    await bot.api.setWebhook("http://example.com/bot");
    api.pushMessage(5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(api.pending()).toBe(1);
    expect(api.stats.webhookDeliveries).toBe(1);
    await expect(bot.api.setWebhook(url, { max_connections: 101 })).rejects.toThrow(
      /max_connections/,
    );
  });

  it("validates its delivery options", async () => {
    await expect(createFakeBotApi({ webhook: { timeoutMs: 0 } })).rejects.toThrow(
      /webhook\.timeoutMs/,
    );
    await expect(createFakeBotApi({ webhook: { retry: 1 } as never })).rejects.toThrow(
      /Unknown option/,
    );
  });
});
