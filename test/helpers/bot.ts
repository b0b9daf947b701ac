import { Bot, type Context } from "grammy";
import { afterEach, beforeEach, expect } from "vitest";
import { RunnerError } from "../../src/index.js";
import { createFakeBotApi, type FakeBotApi } from "../../src/testing/index.js";

export { gate, until } from "./async.js";

/** A fake Bot API per test, closed afterwards. */
export function useFakeApi(): { readonly api: FakeBotApi } {
  const box = {} as { api: FakeBotApi };
  beforeEach(async () => {
    box.api = await createFakeBotApi();
  });
  afterEach(async () => {
    await box.api.close();
  });
  return box;
}

/** A real grammY Bot talking to the fake server over loopback HTTP. */
export function botFor(api: FakeBotApi): Bot<Context> {
  return new Bot(api.token, { client: { apiRoot: api.url } });
}

/** Fails the test if anything leaks an unhandled rejection or uncaught exception. */
export function failOnUnhandled(): void {
  const seen: unknown[] = [];
  const onError = (error: unknown) => seen.push(error);
  beforeEach(() => {
    seen.length = 0;
    process.on("unhandledRejection", onError);
    process.on("uncaughtException", onError);
  });
  afterEach(async () => {
    // Let rejections of the last turn surface before checking.
    await new Promise((resolve) => setImmediate(resolve));
    process.off("unhandledRejection", onError);
    process.off("uncaughtException", onError);
    expect(seen).toEqual([]);
  });
}

/** Fast retries, no console output. */
export const quiet = { retryInterval: 10, maxRetryInterval: 50, silent: true } as const;

/** The update ids a bot's message handler saw, in order. */
export function recordMessages(bot: Bot<Context>): number[] {
  const seen: number[] = [];
  bot.on("message", (c) => void seen.push(c.update.update_id));
  return seen;
}

/** The error `task()` rejects with; fails the test if it resolves or is no RunnerError. */
export async function rejection(task: Promise<void> | undefined): Promise<RunnerError> {
  const error = await task?.then(
    () => {
      throw new Error("task() resolved, expected a rejection");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunnerError);
  return error as RunnerError;
}
