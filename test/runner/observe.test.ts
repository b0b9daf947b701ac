import { describe, expect, it } from "vitest";
import { run } from "../../src/index.js";
import { botFor, failOnUnhandled, until, useFakeApi } from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();

describe("handle.observe()", () => {
  it("reports every handler and getUpdates duration until detached", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    bot.on("message", () => {});
    api.inject({ type: "http", status: 500 }, { times: 1, method: "getUpdates" });
    api.pushMessages({ count: 30 });
    const handle = run(bot, {
      runner: { fetch: { timeout: 0 }, silent: true, retryInterval: 1 },
    });
    const handled: number[] = [];
    const calls: boolean[] = [];
    const detach = handle.observe({
      handled: (seconds) => handled.push(seconds),
      getUpdates: (seconds, ok) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        calls.push(ok);
      },
    });
    // A throwing observer is skipped, not fatal, and the others still see everything.
    handle.observe({
      handled: () => {
        throw new Error("observer bug");
      },
    });
    await until(() => handle.stats().handled === 30);
    expect(handled.length).toBe(30);
    expect(handled.every((s) => s >= 0 && s < 10)).toBe(true);
    expect(calls[0]).toBe(false);
    expect(calls.filter((ok) => ok).length).toBeGreaterThanOrEqual(1);
    detach();
    detach();
    api.pushMessages({ count: 5 });
    await until(() => handle.stats().handled === 35);
    await handle.stop();
    expect(handled.length).toBe(30);
  });

  it("rejects what is not an observer", async () => {
    const handle = run(botFor(ctx.api), { runner: { silent: true } });
    expect(() => handle.observe(null as never)).toThrow(TypeError);
    expect(() => handle.observe({ handled: 1 } as never)).toThrow(/observer.handled/);
    await handle.stop();
  });
});
