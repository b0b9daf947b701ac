import { describe, expect, it } from "vitest";
import { run, sequentialize } from "../../src/index.js";
import { botFor, failOnUnhandled, gate, until, useFakeApi } from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();

const FLOOD_CHAT = 1;

describe("fair sequentialize under run()", () => {
  it("lets quiet chats run while a flooding chat's updates wait for their turn", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const flood = gate();
    const floodOrder: number[] = [];
    const quiet = new Set<number>();
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async (c) => {
      if (c.chat.id === FLOOD_CHAT) {
        await flood.promise;
        floodOrder.push(c.message.message_id);
      } else {
        quiet.add(c.chat.id);
      }
    });
    const floodUpdates = api.pushMessages({ count: 30, chats: 1, firstChatId: FLOOD_CHAT });
    api.pushMessages({ count: 10, chats: 10, firstChatId: 100 });
    const handle = run(bot, { sink: { concurrency: 2 } });
    // Without parking, the flood's second update would hold the other slot
    // and no quiet chat could run until the gate opens.
    await until(() => quiet.size === 10);
    expect(floodOrder).toEqual([]);
    expect(handle.stats().parked).toBe(29);
    flood.open();
    await until(() => floodOrder.length === 30);
    expect(floodOrder).toEqual(floodUpdates.map((u) => u.message?.message_id));
    expect(handle.stats().parked).toBe(0);
    await handle.stop();
  });

  it("parked updates never run more than `concurrency` handlers at once", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    let running = 0;
    let peak = 0;
    let done = 0;
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
      done++;
    });
    api.pushMessages({ count: 200, chats: 4 });
    const handle = run(bot, { sink: { concurrency: 3 } });
    await until(() => done === 200);
    await handle.stop();
    expect(peak).toBe(3);
  });

  it("pauses fetching when the parking cap is reached, and loses nothing", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const flood = gate();
    const order: number[] = [];
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async (c) => {
      await flood.promise;
      order.push(c.message.message_id);
    });
    const updates = api.pushMessages({ count: 40, chats: 1 });
    const handle = run(bot, { sink: { concurrency: 10, maxParked: 5 } });
    await until(() => handle.stats().parked === 5);
    // Give the runner every chance to fetch more; it must not.
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(handle.stats().parked).toBe(5);
    expect(api.stats.delivered).toBe(6);
    flood.open();
    await until(() => order.length === 40);
    expect(order).toEqual(updates.map((u) => u.message?.message_id));
    await handle.stop();
  });

  it("fetches in batches when the sink is full, not one update per freed slot", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    let done = 0;
    const limits: number[] = [];
    bot.api.config.use((prev, method, payload, signal) => {
      const args = payload as { limit?: number; timeout?: number };
      // Polls only: the confirmation on stop asks for 1 with timeout 0.
      if (method === "getUpdates" && args.timeout !== 0) limits.push(args.limit ?? 100);
      return prev(method, payload, signal);
    });
    bot.on("message", async () => {
      await new Promise((r) => setTimeout(r, 1));
      done++;
    });
    api.pushMessages({ count: 1_000, chats: 1_000 });
    const handle = run(bot, { sink: { concurrency: 50 } });
    await until(() => done === 1_000);
    await handle.stop();
    // Batches of a tenth of the slots (5) or more: about 200 calls at most,
    // where one call per freed slot would take close to 1,000.
    expect(limits.length).toBeLessThan(250);
    expect(limits.filter((limit) => limit < 5).length).toBeLessThan(10);
  });

  it("stop() waits for parked updates too", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const first = gate();
    const seen: number[] = [];
    bot.use(sequentialize((c) => String(c.chat?.id)));
    bot.on("message", async (c) => {
      if (seen.length === 0) await first.promise;
      seen.push(c.message.message_id);
    });
    api.pushMessages({ count: 5, chats: 1 });
    const handle = run(bot);
    await until(() => handle.stats().parked === 4);
    const stopping = handle.stop();
    first.open();
    await stopping;
    expect(seen.length).toBe(5);
    expect(api.stats.confirmedOffset).toBe(6);
  });
});
