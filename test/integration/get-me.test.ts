/**
 * The runner sends getMe itself, under its own retry policy, instead of
 * leaving it to grammY's bot.init(), which retries network errors silently
 * and for good: failures are logged like getUpdates failures, counted in
 * stats(), end with maxRetryTime, stop with stop(), and name the host.
 */
import { createServer } from "node:net";
import { Bot } from "grammy";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../src/index.js";
import { botFor, failOnUnhandled, quiet, rejection, until, useFakeApi } from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();
afterEach(() => {
  vi.restoreAllMocks();
});

/** A loopback port nobody listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const TOKEN = "123456:SECRET_token_for_get_me_tests_xxxxxxxx";

describe("getMe before the first getUpdates", () => {
  it("an unreachable Bot API: each failure printed with the host, counted, ended by maxRetryTime", async () => {
    const printed: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(" "));
    });
    const port = await closedPort();
    const bot = new Bot(TOKEN, { client: { apiRoot: `http://127.0.0.1:${port}` } });
    const handle = run(bot, {
      runner: { retryInterval: 10, maxRetryInterval: 20, maxRetryTime: 300 },
    });
    const error = await rejection(handle.task());
    expect(error.code).toBe("retry_time_exceeded");
    expect(error.message).toContain(`getMe to the Bot API at 127.0.0.1:${port} kept failing`);
    const stats = handle.stats();
    expect(stats.retries).toBeGreaterThan(2);
    expect(stats.lastError).toMatch(/ECONNREFUSED/);
    expect(stats.getUpdatesCalls).toBe(0);
    expect(printed.length).toBe(stats.retries);
    expect(printed[0]).toMatch(
      new RegExp(
        `^\\[grammy-runner\\] getMe to the Bot API at 127\\.0\\.0\\.1:${port} failed \\(.*ECONNREFUSED.*\\); retrying in \\d+ ms\\.$`,
      ),
    );
    for (const text of [...printed, error.message, String(stats.lastError)])
      expect(text).not.toContain("SECRET_token");
  });

  it("stop() ends the wait at once; task() resolves", async () => {
    const port = await closedPort();
    const bot = new Bot(TOKEN, { client: { apiRoot: `http://127.0.0.1:${port}` } });
    const handle = run(bot, {
      runner: { ...quiet, retryInterval: 60_000, maxRetryInterval: 60_000 },
    });
    await until(() => handle.stats().retries === 1);
    const started = performance.now();
    await handle.stop();
    expect(performance.now() - started).toBeLessThan(5_000); // not the 60 s wait
    await expect(handle.task()).resolves.toBeUndefined();
    expect(handle.isRunning()).toBe(false);
  });

  it("server errors on getMe are retried with backoff, then the bot runs", async () => {
    const { api } = ctx;
    api.inject({ type: "http", status: 502 }, { times: 2, method: "getMe" });
    api.inject({ type: "retry_after", seconds: 0 }, { method: "getMe" });
    const bot = botFor(api);
    let started: string | undefined;
    bot.on("message", (c) => c.reply("hi"));
    api.pushMessage(1, "hello");
    const handle = run(bot, {
      runner: {
        ...quiet,
        onStart: (me) => {
          started = me.username;
        },
      },
    });
    await api.waitFor((a) => a.calls("sendMessage").length === 1);
    expect(api.calls("getMe").length).toBe(4);
    expect(handle.stats().retries).toBe(3);
    expect(started).toBe(api.botInfo.username);
    expect(bot.botInfo.id).toBe(api.botInfo.id);
    await handle.stop();
  });

  it("401 on getMe ends the runner as unauthorized, without retrying", async () => {
    const { api } = ctx;
    api.inject({ type: "unauthorized" }, { method: "getMe" });
    const handle = run(botFor(api), { runner: quiet });
    const error = await rejection(handle.task());
    expect(error.code).toBe("unauthorized");
    expect(handle.stats().retries).toBe(0);
    expect(api.calls("getMe").length).toBe(1);
    expect(api.stats.getUpdatesCalls).toBe(0);
  });

  it("a bot that knows its info sends no getMe", async () => {
    const { api } = ctx;
    const bot = new Bot(api.token, { client: { apiRoot: api.url }, botInfo: api.botInfo });
    const handle = run(bot, { runner: quiet });
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 1);
    expect(api.calls("getMe").length).toBe(0);
    await handle.stop();
  });
});
