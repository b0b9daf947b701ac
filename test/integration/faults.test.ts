import createDebug from "debug";
import { Bot } from "grammy";
import type { Update } from "grammy/types";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HandlerTimeoutError, run, sequentialize, updateSignal } from "../../src/index.js";
import {
  botFor,
  failOnUnhandled,
  gate,
  quiet,
  recordMessages,
  rejection,
  until,
  useFakeApi,
} from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();

afterEach(() => {
  vi.restoreAllMocks();
});

/** Records the method of every API call grammY makes, and getUpdates offsets. */
function recordCalls(bot: ReturnType<typeof botFor>): { methods: string[]; offsets: number[] } {
  const methods: string[] = [];
  const offsets: number[] = [];
  bot.api.config.use((prev, method, payload, signal) => {
    methods.push(method);
    if (method === "getUpdates") offsets.push((payload as { offset: number }).offset);
    return prev(method, payload, signal);
  });
  return { methods, offsets };
}

describe("retries", () => {
  it("retries HTTP 500/502 answers, counts them and handles every update", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.inject({ type: "http", status: 500 }, { times: 3 });
    api.inject({ type: "http", status: 502 }, { times: 2 });
    api.pushMessages({ count: 20, chats: 4 });
    const handle = run(bot, { runner: quiet });
    await until(() => seen.length === 20);
    expect(handle.stats().retries).toBe(5);
    expect(handle.stats().lastError).toMatch(/502/);
    // 5 failures, the successful fetch and the long poll that follows: no busy loop.
    expect(api.stats.getUpdatesCalls).toBeGreaterThanOrEqual(6);
    expect(api.stats.getUpdatesCalls).toBeLessThanOrEqual(9);
    await handle.stop();
    expect(new Set(seen).size).toBe(20);
    expect(api.stats.confirmedOffset).toBe(21);
  });

  it("keeps the call count bounded under the default exponential backoff", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.inject({ type: "http", status: 500 }, { times: 4 });
    api.pushMessages({ count: 3 });
    const handle = run(bot, { runner: { silent: true } });
    await until(() => seen.length === 3);
    expect(handle.stats().retries).toBe(4);
    expect(api.stats.getUpdatesCalls).toBeLessThanOrEqual(4 + 3);
    await handle.stop();
  });

  it("ends with retry_time_exceeded when failing longer than maxRetryTime", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    api.inject({ type: "http", status: 500 }, { times: Number.POSITIVE_INFINITY });
    const handle = run(bot, { runner: { ...quiet, maxRetryTime: 300 } });
    const error = await rejection(handle.task());
    expect(error.code).toBe("retry_time_exceeded");
    expect(error.message).toContain("maxRetryTime");
    expect(handle.isRunning()).toBe(false);
    expect(handle.stats().retries).toBeGreaterThan(0);
    // About 300 ms of 5..50 ms waits, not thousands of calls.
    expect(api.stats.getUpdatesCalls).toBeLessThan(100);
    await handle.stop();
  });
});

describe("fatal answers", () => {
  it("ends on 401 with an unauthorized RunnerError that does not leak the token", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    api.inject({ type: "unauthorized" });
    const handle = run(bot, { runner: quiet });
    const error = await rejection(handle.task());
    expect(error.code).toBe("unauthorized");
    expect(error.message).toMatch(/wrong|revoked/);
    expect(error.message).not.toContain(api.token);
    expect(error.message).not.toContain(api.token.split(":")[1]);
    expect(handle.isRunning()).toBe(false);
    expect(api.stats.getUpdatesCalls).toBe(1);
    await handle.stop();
  });

  it("ends on a wrong token (a real 401 from getMe in bot.init())", async () => {
    const { api } = ctx;
    const wrongToken = "987654321:WRONG_TOKEN_bbbbbbbbbbbbbbbbbbbbbbbb";
    const bot = new Bot(wrongToken, { client: { apiRoot: api.url } });
    const handle = run(bot, { runner: quiet });
    const error = await rejection(handle.task());
    expect(error.code).toBe("unauthorized");
    expect(error.message).not.toContain(wrongToken);
    expect(error.message).not.toContain("WRONG_TOKEN");
    expect(api.stats.getUpdatesCalls).toBe(0);
    expect(handle.isRunning()).toBe(false);
  });

  it("prints the fatal error once only when nobody called task(); whoever awaits task() reports it", async () => {
    const { api } = ctx;
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      api.inject({ type: "unauthorized" });
      const awaited = run(botFor(api));
      expect((await rejection(awaited.task())).code).toBe("unauthorized");
      await new Promise((resolve) => setImmediate(resolve));
      expect(printed).not.toHaveBeenCalled();

      api.inject({ type: "unauthorized" });
      const ignored = run(botFor(api));
      await until(() => !ignored.isRunning());
      await until(() => printed.mock.calls.length > 0);
      expect(printed).toHaveBeenCalledTimes(1);
      expect(String(printed.mock.calls[0][0])).toMatch(
        /^\[grammy-runner\] The runner stopped: .*(wrong|revoked|unauthorized)/i,
      );
      expect(String(printed.mock.calls[0][0])).not.toContain(api.token);
    } finally {
      printed.mockRestore();
    }
  });

  it("ends on 409 conflict with code conflict", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    api.inject({ type: "conflict" });
    const handle = run(bot, { runner: quiet });
    const error = await rejection(handle.task());
    expect(error.code).toBe("conflict");
    expect(error.message).toMatch(/Another process/);
    expect(handle.isRunning()).toBe(false);
  });

  it("deletes an active webhook by default and handles updates", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    await bot.api.setWebhook("https://example.com/hook");
    const seen = recordMessages(bot);
    api.pushMessages({ count: 3 });
    const handle = run(bot, { runner: quiet });
    await until(() => seen.length === 3);
    expect(api.calls("deleteWebhook")).toHaveLength(1);
    expect(api.calls("deleteWebhook")[0].params.drop_pending_updates).not.toBe(true);
    expect(handle.isRunning()).toBe(true);
    await handle.stop();
  });

  it("ends with webhook_active when runner.deleteWebhook is false", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    await bot.api.setWebhook("https://example.com/hook");
    const handle = run(bot, { runner: { ...quiet, deleteWebhook: false } });
    const error = await rejection(handle.task());
    expect(error.code).toBe("webhook_active");
    expect(api.calls("deleteWebhook")).toHaveLength(0);
    expect(handle.isRunning()).toBe(false);
  });
});

describe("stop() while waiting to retry", () => {
  async function stopQuickly(handle: ReturnType<typeof run>): Promise<void> {
    const started = performance.now();
    await handle.stop();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(handle.isRunning()).toBe(false);
    await expect(handle.task()).resolves.toBeUndefined();
  }

  it("does not wait out a 60 s backoff", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    api.inject({ type: "http", status: 500 }, { times: Number.POSITIVE_INFINITY });
    const handle = run(bot, {
      runner: { retryInterval: 60_000, maxRetryInterval: 60_000, silent: true },
    });
    await until(() => handle.stats().retries === 1);
    await stopQuickly(handle);
    expect(api.stats.getUpdatesCalls).toBe(1);
  });

  it("does not wait out a 60 s retry_after", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    api.inject({ type: "retry_after", seconds: 60 }, { times: Number.POSITIVE_INFINITY });
    const handle = run(bot, { runner: { silent: true } });
    await until(() => handle.stats().retries === 1);
    await stopQuickly(handle);
    expect(api.stats.getUpdatesCalls).toBe(1);
  });

  it("does not wait out the runner's backoff when bot.init() fails", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    // grammY's init() rethrows 4xx answers, so the runner retries them itself.
    api.inject(
      { type: "http", status: 400, description: "Bad Request: try later" },
      { times: Number.POSITIVE_INFINITY, method: "getMe" },
    );
    const handle = run(bot, {
      runner: { retryInterval: 60_000, maxRetryInterval: 60_000, silent: true },
    });
    await until(() => handle.stats().retries === 1);
    await stopQuickly(handle);
    expect(api.stats.methodCalls.getMe).toBe(1);
    expect(api.stats.getUpdatesCalls).toBe(0);
  });

  it("does not wait out a 60 s retry_after inside bot.init()", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    // grammY's init() sleeps retry_after itself, with the runner's signal.
    api.inject(
      { type: "retry_after", seconds: 60 },
      { times: Number.POSITIVE_INFINITY, method: "getMe" },
    );
    const handle = run(bot, { runner: { silent: true } });
    await api.waitFor((a) => a.stats.methodCalls.getMe === 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await stopQuickly(handle);
    expect(api.stats.methodCalls.getMe).toBe(1);
    expect(api.stats.getUpdatesCalls).toBe(0);
  });

  it("retries a failing bot.init() and then polls", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.inject(
      { type: "http", status: 400, description: "Bad Request: try later" },
      { times: 2, method: "getMe" },
    );
    api.pushMessages({ count: 2 });
    const handle = run(bot, { runner: quiet });
    await until(() => seen.length === 2);
    expect(api.stats.methodCalls.getMe).toBe(3);
    expect(handle.stats().retries).toBe(2);
    await handle.stop();
  });
});

describe("bad answers from the server", () => {
  it.each([
    ["a null result", { type: "result", value: null }],
    ["a string result", { type: "result", value: "x" }],
    ["an object result", { type: "result", value: { update_id: 1 } }],
    ["an HTML body", { type: "non_json" }],
    ["a dropped connection", { type: "drop" }],
  ] as const)("retries after %s and handles later updates", async (_, fault) => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.inject(fault, { times: 2 });
    const handle = run(bot, { runner: quiet });
    await until(() => handle.stats().retries === 2);
    expect(handle.stats().lastError).toBeDefined();
    api.pushMessages({ count: 3 });
    await until(() => seen.length === 3);
    expect(handle.isRunning()).toBe(true);
    await handle.stop();
    expect(seen).toEqual([1, 2, 3]);
  });

  it("skips updates without a valid update_id and handles the valid ones once", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.pushMessage(1, "one");
    api.pushRaw({});
    api.pushRaw({ update_id: "x", message: { text: "bad" } });
    api.pushRaw({ update_id: 2.5 });
    api.pushRaw({ update_id: null });
    api.pushRaw(null);
    api.pushMessage(2, "two");
    const handle = run(bot, { runner: quiet });
    await until(() => seen.length === 2);
    expect(handle.stats().invalidUpdates).toBe(5);
    api.pushMessage(3, "three");
    await until(() => seen.length === 3);
    await handle.stop();
    expect(seen).toEqual([1, 2, 3]);
    expect(handle.stats().fetched).toBe(3);
    expect(api.stats.confirmedOffset).toBe(4);
  });

  it("does not busy-loop on a batch with nothing usable", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.pushRaw({});
    api.pushRaw({ update_id: "x" });
    const handle = run(bot, { runner: { maxRetryInterval: 100, silent: true } });
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Waits of 50..100 ms: a handful of calls, not thousands.
    expect(api.stats.getUpdatesCalls).toBeLessThanOrEqual(10);
    expect(handle.stats().invalidUpdates).toBeGreaterThan(0);
    api.pushMessage(1, "finally");
    await until(() => seen.length === 1);
    await handle.stop();
    expect(seen).toEqual([1]);
  });

  it("handles duplicate and out-of-order ids once and only moves the offset forward", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const texts: string[] = [];
    bot.on("message", (c) => void texts.push(`${c.update.update_id}:${c.message.text}`));
    const calls = recordCalls(bot);
    // A real payload to copy; update 1 itself is below the offset the runner
    // reaches after the injected answer, so Telegram would forget it too.
    const template = api.pushMessage(1, "template").message as NonNullable<Update["message"]>;
    const withText = (id: number, text: string): Update => ({
      update_id: id,
      message: { ...template, text },
    });
    api.inject({
      type: "result",
      value: [withText(5, "a"), withText(5, "b"), withText(3, "c")],
    });
    const handle = run(bot, { runner: quiet });
    await until(() => texts.length === 1);
    expect(handle.stats().invalidUpdates).toBe(2);
    api.pushUpdate(withText(8, "e"));
    await until(() => texts.length === 2);
    await handle.stop();
    expect(texts).toEqual(["5:a", "8:e"]);
    expect(handle.stats().invalidUpdates).toBe(2);
    expect(calls.offsets[0]).toBe(0);
    expect(calls.offsets[1]).toBe(6);
    for (let i = 1; i < calls.offsets.length; i++)
      expect(calls.offsets[i]).toBeGreaterThanOrEqual(calls.offsets[i - 1]);
    expect(calls.offsets.at(-1)).toBe(9);
    expect(api.stats.confirmedOffset).toBe(9);
  });
});

describe("fetch options", () => {
  it("drops pending updates before the first fetch with drop_pending_updates", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    const calls = recordCalls(bot);
    api.pushMessages({ count: 5 });
    const handle = run(bot, { runner: { drop_pending_updates: true } });
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 1);
    api.pushMessage(9, "new");
    await until(() => seen.length === 1);
    await handle.stop();
    expect(seen).toEqual([6]);
    expect(api.calls("deleteWebhook")[0].params.drop_pending_updates).toBe(true);
    expect(calls.methods.slice(0, 3)).toEqual(["getMe", "deleteWebhook", "getUpdates"]);
  });

  it("passes allowed_updates through to getUpdates", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    const queries: string[] = [];
    bot.on("callback_query:data", (c) => void queries.push(c.callbackQuery.data));
    api.pushMessage(1, "ignored");
    api.pushCallbackQuery({ fromId: 1, data: "like" });
    const handle = run(bot, { runner: { fetch: { allowed_updates: ["callback_query"] } } });
    await until(() => queries.length === 1);
    api.pushMessage(1, "ignored too");
    api.pushCallbackQuery({ fromId: 1, data: "again" });
    await until(() => queries.length === 2);
    expect(api.calls("getUpdates")[0].params.allowed_updates).toEqual(["callback_query"]);
    await handle.stop();
    expect(queries).toEqual(["like", "again"]);
    expect(seen).toEqual([]);
    expect(api.stats.delivered).toBe(2);
  });
});

describe("handler timeout", () => {
  it("reports a slow handler once, frees its slot and sends its later error to bot.catch", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const release = gate();
    const timedOut: number[] = [];
    const caught: string[] = [];
    const done: number[] = [];
    let slowFinished = false;
    let abortReason: unknown;
    let abortedAt = 0;
    bot.catch((err) => void caught.push((err.error as Error).message));
    bot.on("message", async (c) => {
      const id = c.update.update_id;
      if (id === 1) {
        const signal = updateSignal(c);
        signal?.addEventListener("abort", () => {
          abortReason = signal.reason;
          abortedAt = performance.now();
        });
        await release.promise;
        slowFinished = true;
        throw new Error("late failure");
      }
      done.push(id);
    });
    api.pushMessages({ count: 2, chats: 2 });
    // The deadline counts from dispatch, which comes after this and may come
    // long before the handler's first line on a busy host: measure from here.
    const runAt = performance.now();
    const handle = run(bot, {
      sink: {
        concurrency: 1,
        timeout: { milliseconds: 50, handler: (update) => void timedOut.push(update.update_id) },
      },
    });
    // The fast update runs while the slow one is still running.
    await until(() => done.length === 1);
    expect(slowFinished).toBe(false);
    expect(done).toEqual([2]);
    expect(timedOut).toEqual([1]);
    expect(handle.stats().timedOut).toBe(1);
    expect(abortReason).toBeInstanceOf(HandlerTimeoutError);
    expect(abortedAt - runAt).toBeGreaterThanOrEqual(45);
    release.open();
    await until(() => caught.length === 1);
    expect(caught).toEqual(["late failure"]);
    expect(timedOut).toEqual([1]);
    await handle.stop();
    expect(handle.stats().failed).toBe(1);
  });

  it("stop() does not wait for a handler that timed out", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const release = gate();
    let timedOut = 0;
    bot.on("message", () => release.promise);
    api.pushMessage(1);
    const handle = run(bot, {
      sink: { timeout: { milliseconds: 20, handler: () => void timedOut++ } },
    });
    await until(() => timedOut === 1);
    const started = performance.now();
    await handle.stop();
    expect(performance.now() - started).toBeLessThan(5_000);
    release.open();
  });

  it("under sequentialize, a timed-out handler hands its chat on, and stop() still finishes", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const hung = gate();
    const handled: number[] = [];
    let timedOut = 0;
    bot.use(sequentialize((c) => c.chat?.id.toString()));
    bot.on("message", async (c) => {
      if (c.update.update_id === 1) await hung.promise; // never opened before stop()
      handled.push(c.update.update_id);
    });
    // One chat: 2 and 3 wait behind 1, parked, with room for one of them only.
    api.pushMessages({ count: 3, chats: 1 });
    const handle = run(bot, {
      sink: { maxParked: 1, timeout: { milliseconds: 50, handler: () => void timedOut++ } },
    });
    await until(() => handled.length === 2);
    expect(handled).toEqual([2, 3]);
    expect(timedOut).toBe(1);
    // Fetching goes on for the chat and for others.
    api.pushMessages({ count: 2, chats: 2, firstChatId: 7 });
    await until(() => handled.length === 4);
    const started = performance.now();
    await handle.stop();
    expect(performance.now() - started).toBeLessThan(5_000);
    hung.open();
  });
});

describe("token redaction", () => {
  it("never prints or logs the token through 500s, a dropped connection and a 401", async () => {
    const { api } = ctx;
    const secret = api.token.split(":")[1];
    const printed: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      printed.push(
        args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : String(a))).join(" "),
      );
    });
    const debugLines: string[] = [];
    const originalLog = createDebug.log;
    const previous = createDebug.disable();
    createDebug.enable("grammy-runner:*");
    createDebug.log = (...args: unknown[]) => void debugLines.push(args.join(" "));
    try {
      const bot = botFor(api);
      api.inject({ type: "http", status: 500 }, { times: 2 });
      api.inject({ type: "drop" });
      api.inject({ type: "http", status: 502 });
      api.inject({ type: "unauthorized" });
      const handle = run(bot, { runner: { retryInterval: 10 } });
      const error = await rejection(handle.task());
      expect(error.code).toBe("unauthorized");
      expect(handle.stats().retries).toBe(4);
      const texts = [
        ...printed,
        ...debugLines,
        error.message,
        String((error.cause as Error | undefined)?.message),
        String(handle.stats().lastError),
      ];
      // The run did print and log something, so the check below means something
      // (four retried failures; the fatal one goes to task(), whose caller reports it).
      expect(printed.length).toBeGreaterThanOrEqual(4);
      expect(debugLines.some((l) => l.includes("dropped") || l.includes("failed"))).toBe(true);
      for (const text of texts) {
        expect(text).not.toContain(api.token);
        expect(text).not.toContain(secret);
      }
    } finally {
      createDebug.log = originalLog;
      createDebug.disable();
      if (previous) createDebug.enable(previous);
    }
  });
});
