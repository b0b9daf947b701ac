import { afterEach, describe, expect, it, vi } from "vitest";
import { createSource, type SourceOptions, type UpdateSupplier } from "../../src/runner/source.js";
import { flush } from "../helpers/async.js";

type Signal = Parameters<UpdateSupplier<number>["supply"]>[1];

/** Resolves (or rejects) when `signal` aborts. */
function aborted(signal: Signal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve());
  });
}

/** A supplier that hands out numbered batches of one update and records its calls. */
function countingSupplier(): UpdateSupplier<number> & { calls: number[]; signals: Signal[] } {
  const calls: number[] = [];
  const signals: Signal[] = [];
  let n = 0;
  return {
    calls,
    signals,
    supply: async (batchSize, signal) => {
      calls.push(batchSize);
      signals.push(signal);
      return [n++];
    },
  };
}

/**
 * The order in which the first batch is handed out and the fetch started
 * ahead writes its request, which it does from a process.nextTick callback,
 * as node:http does.
 */
async function writesAndHandouts(create: typeof createSource): Promise<string[]> {
  const log: string[] = [];
  let next = 0;
  const source = create<number>({
    supply: async () => {
      const id = next++;
      if (id > 0) process.nextTick(() => log.push(`written ${id}`));
      return [id];
    },
  });
  const gen = source.generator();
  source.setGeneratorPace(10);
  const first = await gen.next();
  log.push(`handed out ${first.value}`);
  await new Promise((resolve) => process.nextTick(resolve));
  source.close();
  return log;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("createSource", () => {
  it("fetches nothing before the first next(), then one batch ahead within the room left", async () => {
    const supplier = countingSupplier();
    const source = createSource(supplier);
    const gen = source.generator();
    await flush();
    expect(supplier.calls).toEqual([]);

    source.setGeneratorPace(5);
    await expect(gen.next()).resolves.toEqual({ done: false, value: [0] });
    await flush();
    // The next batch is already asked for, for the 4 slots left after this one.
    expect(supplier.calls).toEqual([5, 4]);

    await expect(gen.next()).resolves.toEqual({ done: false, value: [1] });
    await flush();
    expect(supplier.calls).toEqual([5, 4, 4]);

    // No room left after the next batch: nothing is fetched ahead.
    source.setGeneratorPace(1);
    await expect(gen.next()).resolves.toEqual({ done: false, value: [2] });
    await flush();
    expect(supplier.calls).toEqual([5, 4, 4]);
    await expect(gen.next()).resolves.toEqual({ done: false, value: [3] });
    expect(supplier.calls).toEqual([5, 4, 4, 1]);
    source.close();
  });

  it("lets a fetch started ahead write its request before handing out the batch", async () => {
    expect(await writesAndHandouts(createSource)).toEqual(["written 1", "handed out 0"]);
  });

  it("takes no tick when process.nextTick was already faked at import, rather than wait on the fake", async () => {
    const realTick = process.nextTick;
    // Marked like @sinonjs/fake-timers' fakes (Jest, Vitest); it forwards, so the import works.
    const fake = Object.assign((...args: Parameters<typeof realTick>) => realTick(...args), {
      clock: {},
    });
    vi.resetModules();
    process.nextTick = fake as unknown as typeof realTick;
    let fresh: typeof createSource;
    try {
      ({ createSource: fresh } = await import("../../src/runner/source.js"));
    } finally {
      process.nextTick = realTick;
    }
    expect(await writesAndHandouts(fresh)).toEqual(["handed out 0", "written 1"]);
  });

  it("fetches ahead only into an idle sink, else when the consumer asks for the next batch", async () => {
    const supplier = countingSupplier();
    let idle = false;
    const source = createSource(supplier, {}, () => idle);
    const gen = source.generator();
    source.setGeneratorPace(10);
    await expect(gen.next()).resolves.toEqual({ done: false, value: [0] });
    await flush();
    // Earlier handlers are still running: the next fetch waits for the consumer.
    expect(supplier.calls).toEqual([10]);
    await expect(gen.next()).resolves.toEqual({ done: false, value: [1] });
    expect(supplier.calls).toEqual([10, 10]);

    idle = true;
    await expect(gen.next()).resolves.toEqual({ done: false, value: [2] });
    await flush();
    expect(supplier.calls).toEqual([10, 10, 10, 9]);
    source.close();
  });

  it("does not fetch ahead while pacing (speedTrafficBalance > 0)", async () => {
    const supplier = countingSupplier();
    const source = createSource(supplier, { speedTrafficBalance: 0.5 });
    const gen = source.generator();
    source.setGeneratorPace(7);
    await gen.next();
    await flush();
    expect(supplier.calls).toEqual([7]);
    source.close();
  });

  it("close() aborts the pending fetch and ends the generator without throwing", async () => {
    let seen: Signal | undefined;
    const source = createSource<number>({
      supply: async (_size, signal) => {
        seen = signal;
        await aborted(signal);
        throw new Error("aborted by the test");
      },
    });
    const gen = source.generator();
    const next = gen.next();
    await flush();
    expect(seen?.aborted).toBe(false);
    expect(source.isActive()).toBe(true);
    source.close();
    expect(seen?.aborted).toBe(true);
    expect(source.isActive()).toBe(false);
    await expect(next).resolves.toEqual({ done: true, value: undefined });
    await expect(gen.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it("hands out a batch fetched in the same tick as close(), then ends", async () => {
    const source = createSource<string>({
      supply: async (_size, signal) => {
        await aborted(signal);
        return ["late"];
      },
    });
    const gen = source.generator();
    const next = gen.next();
    await flush();
    source.close();
    await expect(next).resolves.toEqual({ done: false, value: ["late"] });
    await expect(gen.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it("pauses between small batches with speedTrafficBalance and ends at once on close()", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const calls: number[] = [];
    const supplier: UpdateSupplier<number> = {
      supply: async (size) => {
        calls.push(size);
        // A slow fetch of a small batch: low traffic, so the pacer waits.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return [calls.length];
      },
    };
    const options: SourceOptions = { speedTrafficBalance: 1, maxDelayMilliseconds: 10_000 };

    // Without close(): the next fetch waits for the pause.
    const paced = createSource(supplier, options);
    const pacedGen = paced.generator();
    const first = pacedGen.next();
    await vi.advanceTimersByTimeAsync(1000);
    await expect(first).resolves.toEqual({ done: false, value: [1] });
    const second = pacedGen.next();
    await flush();
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(2);
    await expect(second).resolves.toEqual({ done: false, value: [2] });
    paced.close();
    await expect(pacedGen.next()).resolves.toEqual({ done: true, value: undefined });

    // With close() during the pause: the generator ends without advancing time.
    calls.length = 0;
    const source = createSource(supplier, options);
    const gen = source.generator();
    const a = gen.next();
    await vi.advanceTimersByTimeAsync(1000);
    await a;
    const b = gen.next();
    await flush();
    expect(calls).toHaveLength(1);
    source.close();
    await expect(b).resolves.toEqual({ done: true, value: undefined });
    expect(calls).toHaveLength(1);
  });

  it("hands out a batch fetched ahead even after close(), then gives a fresh generator", async () => {
    const supplier = countingSupplier();
    const source = createSource(supplier);
    expect(source.isActive()).toBe(false);
    const gen = source.generator();
    expect(source.isActive()).toBe(true);
    expect(source.generator()).toBe(gen);
    source.setGeneratorPace(10);
    await gen.next();
    await flush();
    source.close();
    expect(source.isActive()).toBe(false);
    // Batch [1] was fetched ahead before close(): its offset moved on, so it is not dropped.
    await expect(gen.next()).resolves.toEqual({ done: false, value: [1] });
    await expect(gen.next()).resolves.toEqual({ done: true, value: undefined });

    const again = source.generator();
    expect(again).not.toBe(gen);
    expect(source.isActive()).toBe(true);
    await expect(again.next()).resolves.toEqual({ done: false, value: [2] });
    await flush();
    // The pace starts over (unknown: nothing fetched ahead), and the new fetch gets a live signal.
    expect(supplier.calls).toEqual([10, 9, Infinity]);
    expect(supplier.signals[1].aborted).toBe(true);
    expect(supplier.signals[2].aborted).toBe(false);
    source.close();
  });

  it("fetches nothing ahead while the room is unknown, as under the sequential and batch sinks", async () => {
    const supplier = countingSupplier();
    const source = createSource(supplier);
    const gen = source.generator();
    // Their handle() returns Infinity: the next getUpdates would confirm a batch not yet handled.
    source.setGeneratorPace(Infinity);
    await expect(gen.next()).resolves.toEqual({ done: false, value: [0] });
    await flush();
    expect(supplier.calls).toEqual([Infinity]);
    await expect(gen.next()).resolves.toEqual({ done: false, value: [1] });
    expect(supplier.calls).toEqual([Infinity, Infinity]);
    source.close();
  });

  it("throws a supplier error that is not due to close()", async () => {
    const failure = new Error("network down");
    const source = createSource<number>({
      supply: async () => {
        throw failure;
      },
    });
    const gen = source.generator();
    await expect(gen.next()).rejects.toBe(failure);
    await expect(gen.next()).resolves.toEqual({ done: true, value: undefined });
  });
});

describe("createSource validation", () => {
  const supplier: UpdateSupplier<number> = { supply: async () => [] };

  it.each([
    [1.5, RangeError, "1.5"],
    [-1, RangeError, "-1"],
    ["x", TypeError, '"x"'],
    [Number.NaN, TypeError, "NaN"],
  ])("rejects speedTrafficBalance %s", (value, kind, shown) => {
    const attempt = () => createSource(supplier, { speedTrafficBalance: value as number });
    expect(attempt).toThrow(kind);
    expect(attempt).toThrow("`source.speedTrafficBalance`");
    expect(attempt).toThrow("a number from 0 to 1");
    expect(attempt).toThrow(`but got ${shown}.`);
  });

  it("rejects a negative or infinite maxDelayMilliseconds and accepts the edges", () => {
    const negative = () => createSource(supplier, { maxDelayMilliseconds: -1 });
    expect(negative).toThrow(RangeError);
    expect(negative).toThrow("`source.maxDelayMilliseconds`");
    expect(negative).toThrow("but got -1.");
    expect(() => createSource(supplier, { maxDelayMilliseconds: Infinity })).toThrow(RangeError);
    expect(() =>
      createSource(supplier, { speedTrafficBalance: 0, maxDelayMilliseconds: 0 }),
    ).not.toThrow();
    expect(() => createSource(supplier, { speedTrafficBalance: 1 })).not.toThrow();
  });

  it("rejects unknown keys and a bad supplier", () => {
    const typo = { speedTraficBalance: 0.5 } as unknown as SourceOptions;
    expect(() => createSource(supplier, typo)).toThrow(TypeError);
    expect(() => createSource(supplier, typo)).toThrow("Did you mean `speedTrafficBalance`");
    const bad: unknown[] = [null, undefined, {}, { supply: 1 }, () => []];
    for (const value of bad) {
      expect(() => createSource(value as UpdateSupplier<number>)).toThrow(TypeError);
    }
  });
});
