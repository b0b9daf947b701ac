import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createBatchSink,
  createConcurrentSink,
  createSequentialSink,
  type SinkOptions,
  type UpdateConsumer,
  type UpdateSink,
} from "../../src/runner/sink.js";
import { flush, gatedTasks } from "../helpers/async.js";

/** A consumer whose updates each wait for their own gate. */
function gatedConsumer(): UpdateConsumer<number> & ReturnType<typeof gatedTasks> {
  const tasks = gatedTasks();
  return { ...tasks, consume: tasks.run };
}

/** Tracks whether a promise has settled, and with what. */
function track<T>(promise: Promise<T>): { done: boolean; value: T | undefined } {
  const state: { done: boolean; value: T | undefined } = { done: false, value: undefined };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

const noErrors = async (): Promise<void> => {};

afterEach(() => {
  vi.useRealTimers();
});

describe("createConcurrentSink", () => {
  it("caps concurrency and resolves handle() with the free slots", async () => {
    const c = gatedConsumer();
    const sink = createConcurrentSink(c, noErrors, { concurrency: 2 });
    await expect(sink.handle([])).resolves.toBe(2);

    const first = track(sink.handle([1, 2, 3]));
    expect(c.started).toEqual([1, 2]);
    c.open(1);
    await flush();
    expect(c.started).toEqual([1, 2, 3]);
    expect(first.done).toBe(false); // 3 took the freed slot
    c.open(2);
    await flush();
    expect(first.done).toBe(true);
    expect(first.value).toBe(1);
    expect(c.maxRunning()).toBe(2);
  });

  it("defaults to a concurrency of 500", async () => {
    const sink = createConcurrentSink(gatedConsumer(), noErrors);
    await expect(sink.handle([])).resolves.toBe(500);
    const infinite = createConcurrentSink(gatedConsumer(), noErrors, {
      concurrency: Infinity,
      maxParked: Infinity,
    });
    await expect(infinite.handle([1, 2, 3])).resolves.toBe(Infinity);
    // With unbounded slots, the room is bounded by maxParked.
    const capped = createConcurrentSink(gatedConsumer(), noErrors, {
      concurrency: Infinity,
      maxParked: 50,
    });
    await expect(capped.handle([1, 2, 3])).resolves.toBe(50);
  });

  it("reports size(), snapshot() and drains", async () => {
    const c = gatedConsumer();
    const sink = createConcurrentSink(c, noErrors, { concurrency: 2 });
    void sink.handle([5, 6, 7]);
    expect(sink.size()).toBe(3);
    expect(sink.snapshot()).toEqual([5, 6, 7]);
    const drained = track(sink.drain?.() ?? Promise.reject(new Error("no drain")));
    c.open(5);
    await flush();
    expect(sink.size()).toBe(2);
    expect(sink.snapshot()).toEqual([6, 7]);
    c.open(6);
    await flush();
    expect(drained.done).toBe(false);
    c.open(7);
    await flush();
    expect(drained.done).toBe(true);
    expect(sink.size()).toBe(0);
    expect(sink.snapshot()).toEqual([]);
  });

  it("passes failures of the consumer to the error handler", async () => {
    const boom = new Error("boom");
    const errors: unknown[] = [];
    const sink = createConcurrentSink<number>(
      {
        consume: async (n) => {
          if (n === 2) throw boom;
        },
      },
      async (error) => {
        errors.push(error);
      },
    );
    await sink.handle([1, 2, 3]);
    await sink.drain?.();
    expect(errors).toEqual([boom]);
  });

  it("calls the timeout handler for a slow update and frees its slot", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const c = gatedConsumer();
    const handler = vi.fn<(update: number, task: Promise<void>) => void>();
    const sink = createConcurrentSink(c, noErrors, {
      concurrency: 1,
      timeout: { milliseconds: 1000, handler },
    });
    const handled = track(sink.handle([1, 2]));
    await vi.advanceTimersByTimeAsync(999);
    expect(handler).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    await flush();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler.mock.calls[0][0]).toBe(1);
    expect(handler.mock.calls[0][1]).toBeInstanceOf(Promise);
    expect(c.started).toEqual([1, 2]);
    expect(handled.done).toBe(false);
    c.open(2);
    await flush();
    expect(handled.value).toBe(1);
    await expect(sink.drain?.()).resolves.toBeUndefined();
  });
});

describe("createSequentialSink", () => {
  it("handles one update at a time and resolves handle() with Infinity after the batch", async () => {
    const c = gatedConsumer();
    const sink = createSequentialSink(c, noErrors, { concurrency: 50 });
    const handled = track(sink.handle([1, 2, 3]));
    expect(c.started).toEqual([1]);
    c.open(1);
    await flush();
    expect(c.started).toEqual([1, 2]);
    c.open(2);
    await flush();
    expect(handled.done).toBe(false);
    c.open(3);
    await flush();
    expect(handled.done).toBe(true);
    expect(handled.value).toBe(Infinity);
    expect(c.finished).toEqual([1, 2, 3]);
    expect(c.maxRunning()).toBe(1);
  });
});

describe("createBatchSink", () => {
  it("handles a batch concurrently and resolves handle() with Infinity once all are done", async () => {
    const c = gatedConsumer();
    const sink = createBatchSink(c, noErrors);
    const handled = track(sink.handle([1, 2, 3, 4]));
    expect(c.started).toEqual([1, 2, 3, 4]);
    expect(sink.size()).toBe(4);
    c.open(4);
    c.open(1);
    c.open(3);
    await flush();
    expect(handled.done).toBe(false);
    c.open(2);
    await flush();
    expect(handled.value).toBe(Infinity);
    expect(sink.size()).toBe(0);
  });
});

describe("sink option validation", () => {
  const consumer: UpdateConsumer<number> = { consume: async () => {} };
  const factories: Array<
    [string, (options: SinkOptions<number> | undefined) => UpdateSink<number>]
  > = [
    ["concurrent", (o) => createConcurrentSink(consumer, noErrors, o)],
    ["sequential", (o) => createSequentialSink(consumer, noErrors, o)],
    ["batch", (o) => createBatchSink(consumer, noErrors, o)],
  ];

  it.each([
    [0, RangeError, "0"],
    [-5, RangeError, "-5"],
    [Number.NaN, TypeError, "NaN"],
    ["abc", TypeError, '"abc"'],
    [1.5, RangeError, "1.5"],
  ])("rejects concurrency %s", (value, kind, shown) => {
    for (const [, make] of factories) {
      const attempt = () => make({ concurrency: value as number });
      expect(attempt).toThrow(kind);
      expect(attempt).toThrow("`sink.concurrency`");
      expect(attempt).toThrow("an integer >= 1 (or Infinity)");
      expect(attempt).toThrow(`but got ${shown}.`);
    }
  });

  it("accepts Infinity and integers", () => {
    for (const [, make] of factories) {
      expect(() => make({ concurrency: Infinity })).not.toThrow();
      expect(() => make({ concurrency: 1 })).not.toThrow();
      expect(() => make(undefined)).not.toThrow();
      expect(() => make({ maxParked: Infinity })).not.toThrow();
      expect(() => make({ maxParked: 0 })).toThrow(RangeError);
      expect(() => make({ maxParked: 0 })).toThrow("`sink.maxParked`");
    }
  });

  it("rejects unknown keys with a suggestion", () => {
    const typo = { concurency: 3 } as unknown as SinkOptions<number>;
    expect(() => createConcurrentSink(consumer, noErrors, typo)).toThrow(TypeError);
    expect(() => createConcurrentSink(consumer, noErrors, typo)).toThrow(
      "Did you mean `concurrency`",
    );
    const timeoutTypo = {
      timeout: { milisecond: 5, handler: () => {} },
    } as unknown as SinkOptions<number>;
    expect(() => createConcurrentSink(consumer, noErrors, timeoutTypo)).toThrow(
      "Unknown option `sink.timeout.milisecond`",
    );
  });

  it.each([
    [-1, RangeError, "-1"],
    [Number.NaN, TypeError, "NaN"],
    ["10", TypeError, '"10"'],
  ])("rejects timeout.milliseconds %s", (value, kind, shown) => {
    const attempt = () =>
      createConcurrentSink(consumer, noErrors, {
        timeout: { milliseconds: value as number, handler: () => {} },
      });
    expect(attempt).toThrow(kind);
    expect(attempt).toThrow("`sink.timeout.milliseconds`");
    expect(attempt).toThrow(`but got ${shown}.`);
  });

  it("accepts timeout.milliseconds Infinity and rejects a non-function handler", () => {
    expect(() =>
      createConcurrentSink(consumer, noErrors, {
        timeout: { milliseconds: Infinity, handler: () => {} },
      }),
    ).not.toThrow();
    const bad = { timeout: { milliseconds: 5, handler: "log" } } as unknown as SinkOptions<number>;
    expect(() => createConcurrentSink(consumer, noErrors, bad)).toThrow(TypeError);
    expect(() => createConcurrentSink(consumer, noErrors, bad)).toThrow("`sink.timeout.handler`");
  });

  it("rejects a bad consumer or error handler", () => {
    const badConsumers: unknown[] = [null, undefined, 5, {}, { consume: "x" }];
    for (const bad of badConsumers) {
      for (const make of [createConcurrentSink, createSequentialSink, createBatchSink]) {
        expect(() => make(bad as UpdateConsumer<number>, noErrors)).toThrow(TypeError);
      }
    }
    const badHandler = "log" as unknown as () => Promise<void>;
    expect(() => createConcurrentSink(consumer, badHandler)).toThrow(TypeError);
    expect(() => createConcurrentSink(consumer, badHandler)).toThrow("`errorHandler`");
    const notAnObject = 3 as unknown as SinkOptions<number>;
    expect(() => createConcurrentSink(consumer, noErrors, notAnObject)).toThrow(TypeError);
  });
});
