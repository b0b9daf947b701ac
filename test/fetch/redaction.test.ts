import { createServer } from "node:net";
import createDebug from "debug";
import { Bot } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createUpdateFetcher, RunnerError, run } from "../../src/index.js";
import { failOnUnhandled, rejection } from "../helpers/bot.js";

failOnUnhandled();

/** Not Telegram's shape (35 characters after the colon), so only its exact value can hide it. */
const TOKEN = "7000000001:short-token";
const SECRET = "short-token";
/** Given, so that no getMe is sent: the first failing call is getUpdates. */
const botInfo = { id: 7000000001, is_bot: true, first_name: "Test Bot" } as UserFromGetMe;

const previousLog = createDebug.log;
afterEach(() => {
  createDebug.log = previousLog;
  createDebug.disable();
  vi.restoreAllMocks();
});

/** A loopback port nothing listens on: every request fails with ECONNREFUSED. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("the bot's own token", () => {
  it("is hidden from logs, warnings, stats and the RunnerError, whatever its shape", async () => {
    const lines: string[] = [];
    createDebug.enable("grammy-runner:*");
    createDebug.log = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    const printed: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(" "));
    });
    const apiRoot = `http://127.0.0.1:${await closedPort()}`;
    const bot = new Bot(TOKEN, { botInfo, client: { apiRoot } });
    const handle = run(bot, {
      runner: { retryInterval: 10, maxRetryInterval: 20, maxRetryTime: 300 },
    });
    const error = await rejection(handle.task());
    expect(error.code).toBe("retry_time_exceeded");
    const lastError = handle.stats().lastError ?? "";
    // The URL was in the message: what is checked below is its redaction, not its absence.
    expect(lastError).toContain("/bot<token>/getUpdates");
    expect(printed.join("\n")).toContain("getUpdates failed (");
    expect(lines.join("\n")).toContain("getUpdates failed (");
    for (const text of [error.message, String(error), lastError, ...printed, ...lines])
      expect(text).not.toContain(SECRET);
  });

  it("is hidden from a RunnerError's message once a fetcher knows it", () => {
    createUpdateFetcher(new Bot(TOKEN));
    const error = new RunnerError("conflict", `bot ${TOKEN} polls elsewhere`);
    expect(error.message).toBe("bot <token> polls elsewhere");
  });
});
