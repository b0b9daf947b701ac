import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createRunner } from "../../src/runner/run.js";
import { createConcurrentSink, type UpdateSink } from "../../src/runner/sink.js";
import { createSource, type UpdateSource, type UpdateSupplier } from "../../src/runner/source.js";
import { flush, type Gate, gate } from "../helpers/async.js";

type Signal = Parameters<UpdateSupplier<number>["supply"]>[1];

/** Waits (on real time, checking between turns) until `predicate` holds. */
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (predicate()) return;
    await flush();
  }
  throw new Error(`condition never held: ${predicate.toString()}`);
}

/**
 * A supplier that returns the scripted batches in order, then waits for its
 * signal to abort (like a long poll with no updates) and rejects then.
 * More batches can be pushed while it runs.
 */
function scripted(batches: number[][]): UpdateSupplier<number> & {
  sizes: number[];
  signals: Signal[];
  push: (batch: number[]) => void;
  waiting: () => boolean;
} {
  const sizes: number[] = [];
  const signals: Signal[] = [];
  let wake: (() => void) | undefined;
  return {
    sizes,
    signals,
    push: (batch) => {
      batches.push(batch);
      wake?.();
    },
    waiting: () => wake !== undefined,
    supply: async (batchSize, signal) => {
      sizes.push(batchSize);
      signals.push(signal);
      for (;;) {
        const next = batches.shift();
        if (next !== undefined) {
          // Like getUpdates with a limit: the rest stays for the next fetch.
          if (next.length > batchSize) batches.unshift(next.slice(batchSize));
          return next.slice(0, batchSize);
        }
        if (signal.aborted) throw new Error("aborted");
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener("abort", () => resolve());
        });
        wake = undefined;
      }
    },
  };
}

/** A consumer whose updates each wait for their own gate. */
function gatedConsumer(): {
  consume: (n: number) => Promise<void>;
  started: number[];
  finished: number[];
  open: (n: number) => void;
  openAll: () => void;
} {
  const started: number[] = [];
  const finished: number[] = [];
  const gates = new Map<number, Gate>();
  const gateOf = (n: number): Gate => {
    let g = gates.get(n);
    if (g === undefined) {
      g = gate();
      gates.set(n, g);
    }
    return g;
  };
  return {
    started,
    finished,
    open: (n) => gateOf(n).open(),
    openAll: () => {
      for (const g of gates.values()) g.open();
    },
    consume: async (n) => {
      started.push(n);
      await gateOf(n).promise;
      finished.push(n);
    },
  };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeEach(() => {
  unhandled.length = 0;
  process.on("unhandledRejection", onUnhandled);
});

afterEach(async () => {
  await flush();
  process.off("unhandledRejection", onUnhandled);
  vi.restoreAllMocks();
});

function setup(
  batches: number[][],
  concurrency = 10,
): {
  supplier: ReturnType<typeof scripted>;
  consumer: ReturnType<typeof gatedConsumer>;
  source: UpdateSource<number>;
  sink: UpdateSink<number>;
  errors: unknown[];
} {
  const supplier = scripted(batches);
  const consumer = gatedConsumer();
  const errors: unknown[] = [];
  const source = createSource(supplier);
  const sink = createConcurrentSink<number>(
    consumer,
    async (error) => {
      errors.push(error);
    },
    { concurrency },
  );
  return { supplier, consumer, source, sink, errors };
}

describe("createRunner", () => {
  it("does nothing until start(), then hands every fetched batch to the sink", async () => {
    const { supplier, consumer, source, sink } = setup([[1, 2], [3]]);
    const runner = createRunner(source, sink);
    expect(runner.isRunning()).toBe(false);
    expect(runner.task()).toBeUndefined();
    await flush();
    expect(supplier.sizes).toEqual([]);

    runner.start();
    expect(runner.isRunning()).toBe(true);
    await until(() => consumer.started.length === 3);
    expect(consumer.started).toEqual([1, 2, 3]);
    expect(runner.size()).toBe(3);
    consumer.openAll();
    await until(() => runner.size() === 0);
    expect(consumer.finished).toEqual([1, 2, 3]);
    await runner.stop();
  });

  it("fetches no more than the sink has room for, from the first fetch on", async () => {
    const { supplier, consumer, source, sink } = setup(
      [
        [1, 2, 3],
        [4, 5, 6, 7, 8],
      ],
      5,
    );
    const runner = createRunner(source, sink);
    runner.start();
    await until(() => consumer.started.length === 5);
    expect(supplier.sizes).toEqual([5, 2]); // then three of five slots were busy
    expect(consumer.started).toEqual([1, 2, 3, 4, 5]);
    // The sink is full: no fetch until a slot frees up.
    await flush();
    await flush();
    expect(supplier.sizes).toEqual([5, 2]);
    consumer.open(1);
    await until(() => consumer.started.length === 6);
    expect(supplier.sizes).toEqual([5, 2, 1]);
    expect(consumer.started).toEqual([1, 2, 3, 4, 5, 6]);
    consumer.openAll();
    await until(() => consumer.started.length === 8);
    consumer.openAll();
    await runner.stop();
    expect(consumer.finished).toHaveLength(8);
  });

  it("stop() stops fetching at once and resolves only after running handlers settle", async () => {
    const { supplier, consumer, source, sink } = setup([[1, 2]]);
    const runner = createRunner(source, sink);
    runner.start();
    await until(() => consumer.started.length === 2 && supplier.waiting());

    let stopped = false;
    const stopping = runner.stop().then(() => {
      stopped = true;
    });
    expect(runner.isRunning()).toBe(false);
    expect(supplier.signals.at(-1)?.aborted).toBe(true);
    await flush();
    expect(stopped).toBe(false);
    consumer.open(1);
    await flush();
    expect(stopped).toBe(false);
    consumer.open(2);
    await stopping;
    expect(consumer.finished).toEqual([1, 2]);
    expect(supplier.sizes).toHaveLength(2);
  });

  it("can be stopped twice, and task() resolves after the drain", async () => {
    const { supplier, consumer, source, sink } = setup([[1]]);
    const runner = createRunner(source, sink);
    runner.start();
    const task = runner.task();
    expect(task).toBeInstanceOf(Promise);
    await until(() => consumer.started.length === 1 && supplier.waiting());

    let taskDone = false;
    void task?.then(() => {
      taskDone = true;
    });
    const first = runner.stop();
    const second = runner.stop();
    await flush();
    expect(taskDone).toBe(false);
    consumer.open(1);
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    expect(taskDone).toBe(true);
    await expect(runner.stop()).resolves.toBeUndefined();
    expect(runner.isRunning()).toBe(false);
  });

  it("ignores start() while running", async () => {
    const { supplier, source, sink } = setup([]);
    const runner = createRunner(source, sink);
    runner.start();
    const task = runner.task();
    runner.start();
    expect(runner.task()).toBe(task);
    await until(() => supplier.waiting());
    await flush();
    expect(supplier.sizes).toHaveLength(1);
    await runner.stop();
  });

  it("ends with the supplier's error: task() rejects, isRunning() is false, nothing unhandled", async () => {
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const failure = new Error("token revoked");
    const consumer = gatedConsumer();
    let calls = 0;
    const source = createSource<number>({
      supply: async () => {
        calls++;
        if (calls === 1) return [1];
        throw failure;
      },
    });
    const sink = createConcurrentSink(consumer, async () => {});
    const runner = createRunner(source, sink);
    runner.start();
    await until(() => calls === 2);
    await flush();
    expect(runner.isRunning()).toBe(false);
    expect(source.isActive()).toBe(false);

    // Nobody has looked at task() yet: still no unhandled rejection.
    await flush();
    await flush();
    expect(unhandled).toEqual([]);

    // The sink is drained before the task rejects.
    let settled = false;
    const task = runner.task();
    void task?.then(
      () => {},
      () => {
        settled = true;
      },
    );
    await flush();
    expect(settled).toBe(false);
    consumer.open(1);
    await expect(task).rejects.toBe(failure);
    // task() was asked for, so its caller reports the error: not printed as well.
    await new Promise((resolve) => setImmediate(resolve));
    expect(printed).not.toHaveBeenCalled();
    await expect(runner.stop()).resolves.toBeUndefined();
  });

  it("leaves no unhandled rejection when the run fails and nobody asks for task()", async () => {
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const failure = new Error("conflict");
    const source = createSource<number>({
      supply: async () => {
        throw failure;
      },
    });
    const runner = createRunner(
      source,
      createConcurrentSink(gatedConsumer(), async () => {}),
    );
    runner.start();
    // Nobody asked for task(): printed, so the failure is not lost.
    await until(() => printed.mock.calls.length === 1);
    expect(String(printed.mock.calls[0][0])).toContain("conflict");
    for (let i = 0; i < 5; i++) await flush();
    expect(unhandled).toEqual([]);
    expect(runner.isRunning()).toBe(false);
    await expect(runner.task()).rejects.toBe(failure);
  });

  it("starts again after stop() with a fresh fetch", async () => {
    const { supplier, consumer, source, sink } = setup([[1]]);
    const runner = createRunner(source, sink);
    runner.start();
    await until(() => consumer.started.length === 1);
    consumer.open(1);
    await runner.stop();
    const firstTask = runner.task();

    supplier.push([2]);
    runner.start();
    expect(runner.isRunning()).toBe(true);
    expect(runner.task()).not.toBe(firstTask);
    await until(() => consumer.started.length === 2);
    expect(consumer.started).toEqual([1, 2]);
    expect(supplier.signals.at(-1)?.aborted).toBe(false);
    supplier.push([3]);
    await until(() => consumer.started.length === 3);
    expect(runner.isRunning()).toBe(true);
    consumer.openAll();
    await runner.stop();
    expect(consumer.finished).toEqual([1, 2, 3]);
  });

  it("keeps running when start() follows stop() without waiting for it", async () => {
    const { supplier, consumer, source, sink } = setup([[1]]);
    const runner = createRunner(source, sink);
    runner.start();
    await until(() => consumer.started.length === 1 && supplier.waiting());
    const stopped = runner.stop();
    runner.start();
    expect(runner.isRunning()).toBe(true);
    consumer.open(1);
    await stopped; // the first run has drained; the second one takes over
    // Fetches: the first run's two (the second aborted by stop()), then the new run's.
    await until(() => supplier.sizes.length === 3 && supplier.waiting());
    expect(source.isActive()).toBe(true);
    expect(runner.isRunning()).toBe(true);

    supplier.push([2]);
    await until(() => consumer.started.length === 2);
    supplier.push([3]);
    await until(() => consumer.started.length === 3);
    expect(runner.isRunning()).toBe(true);
    consumer.openAll();
    await runner.stop();
  });

  it("stop() right after a restart ends the new run without fetching", async () => {
    const { supplier, consumer, source, sink } = setup([[1]]);
    const runner = createRunner(source, sink);
    runner.start();
    await until(() => consumer.started.length === 1 && supplier.waiting());
    void runner.stop();
    runner.start();
    let stopped = false;
    const final = runner.stop().then(() => {
      stopped = true;
    });
    expect(runner.isRunning()).toBe(false);
    consumer.open(1);
    await until(() => stopped);
    await final;
    expect(supplier.sizes).toHaveLength(2);
    expect(source.isActive()).toBe(false);
  });

  it("reports the sink's size()", async () => {
    const { consumer, source, sink } = setup([[1, 2, 3]]);
    const runner = createRunner(source, sink);
    expect(runner.size()).toBe(0);
    runner.start();
    await until(() => consumer.started.length === 3);
    expect(runner.size()).toBe(3);
    consumer.open(2);
    await until(() => runner.size() === 2);
    consumer.openAll();
    await runner.stop();
    expect(runner.size()).toBe(0);
  });

  it("rejects arguments that are not a source and a sink", () => {
    const { source, sink } = setup([]);
    expect(() => createRunner({} as UpdateSource<number>, sink)).toThrow(TypeError);
    expect(() => createRunner(source, {} as UpdateSink<number>)).toThrow(TypeError);
    expect(() => createRunner(source, null as unknown as UpdateSink<number>)).toThrow(
      "the second argument must be an UpdateSink",
    );
  });
});
