import { Bot, type Context } from "grammy";
import { afterEach, beforeEach, expect } from "vitest";
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
