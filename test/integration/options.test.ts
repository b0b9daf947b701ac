import type { Update } from "grammy/types";
import { describe, expect, it } from "vitest";
import {
  createConcurrentSink,
  createSource,
  createUpdateFetcher,
  type RunOptions,
  run,
} from "../../src/index.js";
import { botFor, failOnUnhandled, useFakeApi } from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();

type Bad = RunOptions<Update>;

/** Runs `act`, expecting a synchronous TypeError or RangeError; returns it. */
function thrown(act: () => unknown): TypeError | RangeError {
  let error: unknown;
  try {
    act();
  } catch (e) {
    error = e;
  }
  expect(error, "expected a synchronous throw").toBeDefined();
  expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
  return error as TypeError | RangeError;
}

/** Lets anything the runner might have started reach the server. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("run() rejects bad arguments before any HTTP call", () => {
  it.each([
    ["undefined", undefined, /grammY Bot.*undefined/],
    ["an empty object", {}, /api\.getUpdates/],
    ["a bot without handleUpdate", { api: { getUpdates: async () => [] } }, /handleUpdate/],
  ])("throws a TypeError for %s", (_, bot, message) => {
    const error = thrown(() => run(bot as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(message);
  });

  it.each([
    ["sink.concurrency", { sink: { concurrency: Number.NaN } }, "NaN", TypeError],
    ["sink.concurrency", { sink: { concurrency: "abc" } }, '"abc"', TypeError],
    ["sink.concurrency", { sink: { concurrency: 0 } }, "0", RangeError],
    ["sink.concurrency", { sink: { concurrency: -5 } }, "-5", RangeError],
    ["sink.concurrency", { sink: { concurrency: 1.5 } }, "1.5", RangeError],
    ["runner.fetch.timeout", { runner: { fetch: { timeout: -1 } } }, "-1", RangeError],
    ["runner.retryInterval", { runner: { retryInterval: "linear" } }, '"linear"', TypeError],
    ["runner.retryInterval", { runner: { retryInterval: 0 } }, "0", RangeError],
    ["runner.maxRetryInterval", { runner: { maxRetryInterval: 0 } }, "0", RangeError],
    ["source.speedTrafficBalance", { source: { speedTrafficBalance: 2 } }, "2", RangeError],
  ])(
    "%s = %o: names the path, the expected form and the value",
    async (path, options, given, kind) => {
      const { api } = ctx;
      const bot = botFor(api);
      const error = thrown(() => run(bot, options as Bad));
      expect(error).toBeInstanceOf(kind);
      expect(error.message).toContain(`\`${path}\``);
      expect(error.message).toMatch(/must be .*\b(a|an) (number|integer)/);
      expect(error.message).toContain(`but got ${given}`);
      await settle();
      expect(api.stats.methodCalls).toEqual({});
    },
  );

  it("states the range a number must be in", () => {
    const bot = botFor(ctx.api);
    expect(thrown(() => run(bot, { sink: { concurrency: 0 } })).message).toMatch(
      /an integer >= 1 \(or Infinity\)/,
    );
    expect(thrown(() => run(bot, { source: { speedTrafficBalance: 2 } })).message).toMatch(
      /from 0 to 1/,
    );
  });

  it("names the accepted strings for a wrong runner.retryInterval", () => {
    const error = thrown(() =>
      run(botFor(ctx.api), { runner: { retryInterval: "linear" as never } }),
    );
    expect(error.message).toMatch(/"exponential"/);
    expect(error.message).toMatch(/"quadratic"/);
  });

  it("suggests the right name for a misspelt option", async () => {
    const { api } = ctx;
    const error = thrown(() => run(botFor(api), { sink: { concurency: 10 } } as Bad));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("`sink.concurency`");
    expect(error.message).toContain("Did you mean `concurrency`?");
    await settle();
    expect(api.stats.methodCalls).toEqual({});
  });

  it("rejects an unknown top-level key", async () => {
    const { api } = ctx;
    const error = thrown(() => run(botFor(api), { sinks: {} } as Bad));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("`sinks`");
    expect(error.message).toMatch(/`source`, `runner`, `sink`/);
    expect(error.message).toContain("Did you mean `sink`?");
    const nested = thrown(() => run(botFor(api), { runner: { fetch: { timout: 5 } } } as Bad));
    expect(nested.message).toContain("`runner.fetch.timout`");
    expect(nested.message).toContain("Did you mean `timeout`?");
    await settle();
    expect(api.stats.methodCalls).toEqual({});
  });

  it("rejects options that are not an object", () => {
    const error = thrown(() => run(botFor(ctx.api), 5 as unknown as Bad));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("`options`");
    expect(error.message).toContain("but got 5");
  });

  it("starts fetching with valid options", async () => {
    const { api } = ctx;
    const handle = run(botFor(api), {
      runner: { retryInterval: "quadratic", maxRetryInterval: 1, fetch: { timeout: 0.05 } },
      sink: { concurrency: Number.POSITIVE_INFINITY },
      source: { speedTrafficBalance: 1 },
    });
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 1);
    await handle.stop();
  });
});

describe("the building blocks validate their options too", () => {
  const adapter = {
    handleUpdate: async () => {},
    errorHandler: () => {},
    api: { getUpdates: async () => [] as { update_id: number }[] },
  };

  it("createUpdateFetcher", () => {
    const zero = thrown(() => createUpdateFetcher(adapter, { retryInterval: 0 }));
    expect(zero).toBeInstanceOf(RangeError);
    expect(zero.message).toMatch(
      /`runner\.retryInterval` must be .*a number of milliseconds from 1 .* but got 0/,
    );
    const timeout = thrown(() => createUpdateFetcher(adapter, { fetch: { timeout: -1 } }));
    expect(timeout.message).toMatch(/`runner\.fetch\.timeout`.* but got -1/);
    const typo = thrown(() => createUpdateFetcher(adapter, { maxRetryIntervall: 5 } as never));
    expect(typo.message).toContain("Did you mean `maxRetryInterval`?");
    expect(thrown(() => createUpdateFetcher({} as never)).message).toMatch(/api\.getUpdates/);
  });

  it("createConcurrentSink", () => {
    const consumer = { consume: async () => {} };
    const handler = async () => {};
    const error = thrown(() => createConcurrentSink(consumer, handler, { concurrency: 0 }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/`sink\.concurrency` must be an integer >= 1.* but got 0/);
    const nan = thrown(() => createConcurrentSink(consumer, handler, { concurrency: Number.NaN }));
    expect(nan).toBeInstanceOf(TypeError);
    expect(nan.message).toContain("but got NaN");
    const typo = thrown(() => createConcurrentSink(consumer, handler, { concurency: 2 } as never));
    expect(typo.message).toContain("Did you mean `concurrency`?");
  });

  it("createSource", () => {
    const supplier = { supply: async () => [] };
    const error = thrown(() => createSource(supplier, { speedTrafficBalance: 2 }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(
      /`source\.speedTrafficBalance` must be a number from 0 to 1.* but got 2/,
    );
    const delay = thrown(() => createSource(supplier, { maxDelayMilliseconds: "x" as never }));
    expect(delay).toBeInstanceOf(TypeError);
    expect(delay.message).toContain("`source.maxDelayMilliseconds`");
    expect(delay.message).toContain('but got "x"');
  });
});
