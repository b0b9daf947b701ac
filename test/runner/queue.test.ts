import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DecayingDeque } from "../../src/runner/queue.js";
import { sequentialize } from "../../src/runner/sequentialize.js";
import { HandlerTimeoutError, updateSignal } from "../../src/runner/update-scope.js";
import { flush, type Gate, gate, gatedTasks } from "../helpers/async.js";

/** A promise that settles when the test says so. */

/** Fake only what the queue uses for deadlines, so that `flush` keeps working. */
function fakeTime(): void {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
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
  vi.useRealTimers();
  await flush();
  process.off("unhandledRejection", onUnhandled);
});

describe("DecayingDeque concurrency", () => {
  it("takes a worker that returns nothing (plain JavaScript) like one that resolves at once", async () => {
    const seen: number[] = [];
    const worker = (n: number) => {
      seen.push(n);
    };
    const queue = new DecayingDeque<number>(
      Infinity,
      worker as unknown as (n: number) => Promise<void>,
      2,
      vi.fn(),
      vi.fn(),
    );
    await queue.add([1, 2, 3, 4, 5]);
    await queue.empty();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(queue.length).toBe(0);
  });

  it("keeps a timeout longer than setTimeout allows (about 24.8 days) without a busy timer", async () => {
    fakeTime();
    const w = gatedTasks();
    const onTimeout = vi.fn();
    const days = 30 * 86_400_000;
    const queue = new DecayingDeque<number>(days, w.run, 1, vi.fn(), onTimeout);
    void queue.add([1]);
    const timers = vi.spyOn(globalThis, "setTimeout");
    vi.advanceTimersByTime(1_000);
    expect(timers.mock.calls.length).toBeLessThanOrEqual(1);
    vi.advanceTimersByTime(days - 1_001);
    expect(onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onTimeout).toHaveBeenCalledTimes(1);
    w.open(1);
  });

  it("never runs more than `concurrency` tasks and starts waiting ones in order", async () => {
    const w = gatedTasks();
    const queue = new DecayingDeque<number>(Infinity, w.run, 3, vi.fn(), vi.fn());
    void queue.add([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.started).toEqual([0, 1, 2]);

    w.open(1);
    await flush();
    expect(w.started).toEqual([0, 1, 2, 3]);

    w.open(0);
    w.open(2);
    await flush();
    expect(w.started).toEqual([0, 1, 2, 3, 4, 5]);

    for (let n = 3; n < 10; n++) {
      w.open(n);
      await flush();
    }
    expect(w.started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.maxRunning()).toBe(3);
    expect(queue.length).toBe(0);
  });

  it("keeps the cap across several add() calls", async () => {
    const w = gatedTasks();
    const queue = new DecayingDeque<number>(Infinity, w.run, 2, vi.fn(), vi.fn());
    void queue.add([0]);
    void queue.add([1, 2]);
    void queue.add([3]);
    expect(w.started).toEqual([0, 1]);
    w.open(0);
    await flush();
    expect(w.started).toEqual([0, 1, 2]);
    w.open(2);
    await flush();
    expect(w.started).toEqual([0, 1, 2, 3]);
    expect(w.maxRunning()).toBe(2);
  });

  it("add() resolves with the free capacity once all its elements started and a slot is free", async () => {
    const w = gatedTasks();
    const queue = new DecayingDeque<number>(Infinity, w.run, 2, vi.fn(), vi.fn());
    let resolved: number | undefined;
    void queue.add([0, 1, 2]).then((free) => {
      resolved = free;
    });
    await flush();
    expect(resolved).toBeUndefined();

    w.open(0); // 2 starts, but the queue is full again
    await flush();
    expect(w.started).toEqual([0, 1, 2]);
    expect(resolved).toBeUndefined();

    w.open(1);
    await flush();
    expect(resolved).toBe(1);
  });

  it("add() resolves at once with the free slots when there is room", async () => {
    const w = gatedTasks();
    const queue = new DecayingDeque<number>(Infinity, w.run, 5, vi.fn(), vi.fn());
    await expect(queue.add([0, 1])).resolves.toBe(3);
    await expect(queue.add([])).resolves.toBe(3);
  });

  it("maps concurrency false to 1 and true to Infinity", async () => {
    expect(
      new DecayingDeque<number>(Infinity, async () => {}, false, vi.fn(), vi.fn()).concurrency,
    ).toBe(1);
    expect(
      new DecayingDeque<number>(Infinity, async () => {}, true, vi.fn(), vi.fn()).concurrency,
    ).toBe(Infinity);
    expect(
      new DecayingDeque<number>(Infinity, async () => {}, 7, vi.fn(), vi.fn()).concurrency,
    ).toBe(7);

    const w = gatedTasks();
    const unbounded = new DecayingDeque<number>(Infinity, w.run, true, vi.fn(), vi.fn());
    const elems = Array.from({ length: 1000 }, (_, i) => i);
    await expect(unbounded.add(elems)).resolves.toBe(Infinity);
    expect(w.started).toHaveLength(1000);

    const v = gatedTasks();
    const single = new DecayingDeque<number>(Infinity, v.run, false, vi.fn(), vi.fn());
    void single.add([0, 1]);
    expect(v.started).toEqual([0]);
  });

  it.each([
    ["0", 0],
    ["a negative number", -3],
    ["0.5", 0.5],
    ["NaN", Number.NaN],
  ])(
    "treats a concurrency of %s as 1: tasks run one at a time and add() resolves",
    async (_, n) => {
      const w = gatedTasks();
      const queue = new DecayingDeque<number>(Infinity, w.run, n, vi.fn(), vi.fn());
      expect(queue.concurrency).toBe(1);
      let room: number | undefined;
      void queue.add([0, 1]).then((free) => {
        room = free;
      });
      await flush();
      expect(w.started).toEqual([0]);
      w.open(0);
      await flush();
      expect(w.started).toEqual([0, 1]);
      expect(room).toBeUndefined();
      w.open(1);
      await flush();
      expect(room).toBe(1);
      await expect(queue.capacity()).resolves.toBe(1);
      expect(w.maxRunning()).toBe(1);
    },
  );

  it("reports the free slots, however many, when parking is not capped", async () => {
    const w = gatedTasks();
    const large = new DecayingDeque<number>(Infinity, w.run, 10_000, vi.fn(), vi.fn());
    await expect(large.add([0, 1, 2])).resolves.toBe(9_997);
    await expect(large.capacity()).resolves.toBe(9_997);
    await expect(large.capacity(9_000)).resolves.toBe(9_997);
    const unbounded = new DecayingDeque<number>(Infinity, w.run, Infinity, vi.fn(), vi.fn());
    await expect(unbounded.add([3])).resolves.toBe(Infinity);
    await expect(unbounded.capacity()).resolves.toBe(Infinity);
    expect(unbounded.maxParked).toBe(Infinity);
  });

  it("bounds the room by what could still be parked when maxParked is given", async () => {
    const w = gatedTasks();
    const capped = new DecayingDeque<number>(Infinity, w.run, true, vi.fn(), vi.fn(), {
      maxParked: 50,
    });
    await expect(capped.add([0, 1, 2])).resolves.toBe(50);
    const tiny = new DecayingDeque<number>(Infinity, w.run, 10, vi.fn(), vi.fn(), {
      maxParked: 0,
    });
    // Below 1 means 1, or there would never be room.
    expect(tiny.maxParked).toBe(1);
    await expect(tiny.add([3])).resolves.toBe(1);
  });

  it("counts running and waiting tasks in length and pendingTasks()", async () => {
    const w = gatedTasks();
    const queue = new DecayingDeque<number>(Infinity, w.run, 2, vi.fn(), vi.fn());
    expect(queue.length).toBe(0);
    expect(queue.pendingTasks()).toEqual([]);
    void queue.add([10, 11, 12, 13]);
    expect(queue.length).toBe(4);
    expect(queue.pendingTasks()).toEqual([10, 11, 12, 13]);
    w.open(10);
    await flush();
    expect(queue.length).toBe(3);
    expect(queue.pendingTasks()).toEqual([11, 12, 13]);
  });
});

describe("DecayingDeque.empty()", () => {
  it("resolves at once when nothing is queued", async () => {
    const queue = new DecayingDeque<number>(Infinity, async () => {}, 2, vi.fn(), vi.fn());
    let done = false;
    void queue.empty().then(() => {
      done = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(true);
  });

  it("resolves only when running and waiting tasks are all done", async () => {
    const w = gatedTasks();
    const queue = new DecayingDeque<number>(Infinity, w.run, 1, vi.fn(), vi.fn());
    void queue.add([0, 1, 2]);
    let done = false;
    void queue.empty().then(() => {
      done = true;
    });
    w.open(0);
    await flush();
    w.open(1);
    await flush();
    expect(done).toBe(false);
    w.open(2);
    await flush();
    expect(done).toBe(true);
  });
});

describe("DecayingDeque errors", () => {
  it("reports a synchronous throw and a rejection to catchError and goes on", async () => {
    const syncError = new Error("sync");
    const asyncError = new Error("async");
    const ran: number[] = [];
    const catchError = vi.fn<(err: unknown, elem: number) => void>();
    const queue = new DecayingDeque<number>(
      Infinity,
      (n) => {
        ran.push(n);
        if (n === 0) throw syncError;
        if (n === 1) return Promise.reject(asyncError);
        return Promise.resolve();
      },
      1,
      catchError,
      vi.fn(),
    );
    await queue.add([0, 1, 2]);
    await queue.empty();
    expect(ran).toEqual([0, 1, 2]);
    expect(catchError).toHaveBeenCalledTimes(2);
    expect(catchError).toHaveBeenNthCalledWith(1, syncError, 0);
    expect(catchError).toHaveBeenNthCalledWith(2, asyncError, 1);
  });

  it("survives a catchError that throws or rejects without an unhandled rejection", async () => {
    const ran: number[] = [];
    let calls = 0;
    const queue = new DecayingDeque<number>(
      Infinity,
      async (n) => {
        ran.push(n);
        throw new Error(`fail ${n}`);
      },
      1,
      () => {
        calls++;
        if (calls === 1) throw new Error("handler throws");
        return Promise.reject(new Error("handler rejects"));
      },
      vi.fn(),
    );
    await queue.add([0, 1, 2]);
    await queue.empty();
    await flush();
    await flush();
    expect(ran).toEqual([0, 1, 2]);
    expect(calls).toBe(3);
    expect(unhandled).toEqual([]);
  });
});

describe("DecayingDeque timeouts", () => {
  it("hands a slow task to catchTimeout once, frees its slot and does not wait for it", async () => {
    fakeTime();
    const w = gatedTasks();
    const catchTimeout = vi.fn<(elem: number, task: Promise<void>) => void>();
    const catchError = vi.fn<(err: unknown, elem: number) => void>();
    const queue = new DecayingDeque<number>(100, w.run, 1, catchError, catchTimeout);
    void queue.add([0, 1]);
    let emptied = false;
    void queue.empty().then(() => {
      emptied = true;
    });

    await vi.advanceTimersByTimeAsync(99);
    await flush();
    expect(catchTimeout).not.toHaveBeenCalled();
    expect(w.started).toEqual([0]);

    await vi.advanceTimersByTimeAsync(1);
    await flush();
    expect(catchTimeout).toHaveBeenCalledTimes(1);
    expect(catchTimeout.mock.calls[0][0]).toBe(0);
    expect(w.started).toEqual([0, 1]);
    expect(queue.pendingTasks()).toEqual([1]);

    w.open(1);
    await flush();
    expect(emptied).toBe(true); // task 0 is still running
    expect(queue.length).toBe(0);

    // The promise given to catchTimeout settles (resolves) when task 0 does,
    // even though it rejects; the rejection still reaches catchError.
    const timedOutTask = catchTimeout.mock.calls[0][1];
    let outcome = "pending";
    timedOutTask.then(
      () => {
        outcome = "resolved";
      },
      () => {
        outcome = "rejected";
      },
    );
    await vi.advanceTimersByTimeAsync(1000);
    await flush();
    expect(outcome).toBe("pending");
    const late = new Error("late failure");
    w.gates.get(0)?.fail(late);
    await flush();
    expect(outcome).toBe("resolved");
    expect(catchError).toHaveBeenCalledWith(late, 0);
    expect(catchTimeout).toHaveBeenCalledTimes(1);
    expect(unhandled).toEqual([]);
  });

  it("times several tasks out in deadline order", async () => {
    fakeTime();
    const w = gatedTasks();
    const timedOut: Array<[number, number]> = [];
    const queue = new DecayingDeque<number>(100, w.run, Infinity, vi.fn(), (elem) => {
      timedOut.push([elem, Date.now()]);
    });
    const t0 = Date.now();
    void queue.add([0]);
    await vi.advanceTimersByTimeAsync(30);
    void queue.add([1, 2]);
    await vi.advanceTimersByTimeAsync(30);
    void queue.add([3]);
    w.open(2); // finishes in time: never timed out

    await vi.advanceTimersByTimeAsync(39);
    expect(timedOut).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(timedOut).toEqual([[0, t0 + 100]]);
    await vi.advanceTimersByTimeAsync(30);
    expect(timedOut).toEqual([
      [0, t0 + 100],
      [1, t0 + 130],
    ]);
    await vi.advanceTimersByTimeAsync(30);
    expect(timedOut).toEqual([
      [0, t0 + 100],
      [1, t0 + 130],
      [3, t0 + 160],
    ]);
    expect(queue.length).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(timedOut).toHaveLength(3);
  });

  it("leaves no timer behind when tasks finish in time", async () => {
    fakeTime();
    const catchTimeout = vi.fn();
    const queue = new DecayingDeque<number>(100, async () => {}, 2, vi.fn(), catchTimeout);
    await queue.add([0, 1, 2]);
    await queue.empty();
    await flush();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(catchTimeout).not.toHaveBeenCalled();
  });

  it("aborts updateSignal(update) with HandlerTimeoutError, also when it is first asked for late", async () => {
    fakeTime();
    const early: AbortSignal[] = [];
    const late: AbortSignal[] = [];
    const sameAfterAwait: boolean[] = [];
    const w = gatedTasks();
    const elems = [{ n: 0 }, { n: 1 }];
    const queue = new DecayingDeque<{ n: number }>(
      250,
      async (elem) => {
        const n = elem.n;
        if (n === 0) {
          const signal = updateSignal(elem);
          if (signal !== undefined) early.push(signal);
          await w.run(n);
          // Same scope after an await: same signal.
          sameAfterAwait.push(updateSignal(elem) === signal);
        } else {
          await w.run(n);
          const signal = updateSignal({ update: elem });
          if (signal !== undefined) late.push(signal);
        }
      },
      2,
      vi.fn(),
      vi.fn(),
    );
    expect(updateSignal(elems[0])).toBeUndefined();
    void queue.add(elems);
    expect(early).toHaveLength(1);
    expect(early[0].aborted).toBe(false);

    await vi.advanceTimersByTimeAsync(250);
    expect(early[0].aborted).toBe(true);
    expect(early[0].reason).toBeInstanceOf(HandlerTimeoutError);
    expect((early[0].reason as HandlerTimeoutError).milliseconds).toBe(250);

    w.open(1);
    await flush();
    expect(late).toHaveLength(1);
    expect(late[0].aborted).toBe(true);
    expect(late[0].reason).toBeInstanceOf(HandlerTimeoutError);

    w.open(0);
    await flush();
    expect(sameAfterAwait).toEqual([true]);
    // Done: the update's scope is gone.
    expect(updateSignal(elems[0])).toBeUndefined();
  });

  it("gives a task that finishes in time a signal that never aborts", async () => {
    fakeTime();
    let signal: AbortSignal | undefined;
    const queue = new DecayingDeque<{ n: number }>(
      100,
      async (elem) => {
        signal = updateSignal(elem);
      },
      1,
      vi.fn(),
      vi.fn(),
    );
    await queue.add([{ n: 0 }]);
    await queue.empty();
    await vi.advanceTimersByTimeAsync(1000);
    expect(signal).toBeDefined();
    expect(signal?.aborted).toBe(false);
  });
});

describe("DecayingDeque parking (sequentialize under the queue)", () => {
  /** A queue whose worker runs `sequentialize` by key, then waits for the update's gate. */
  function keyed(concurrency: number, maxParked?: number, timeout = Infinity) {
    const started: string[] = [];
    const gates = new Map<string, Gate>();
    const mw = sequentialize<{ id: string; key: string }>((ctx) => ctx.key);
    const queue = new DecayingDeque<{ id: string; key: string }>(
      timeout,
      (u) =>
        mw(u, async () => {
          started.push(u.id);
          const g = gate();
          gates.set(u.id, g);
          await g.promise;
        }),
      concurrency,
      vi.fn(),
      vi.fn(),
      maxParked === undefined ? {} : { maxParked },
    );
    const finish = (id: string): void => {
      const g = gates.get(id);
      if (g === undefined) throw new Error(`${id} has not started`);
      g.open();
    };
    return { started, queue, finish };
  }

  it("hands the key on when its holder times out, so the updates behind it run and stop can finish", async () => {
    fakeTime();
    const { started, queue, finish } = keyed(2, 1, 1_000);
    void queue.add([
      { id: "a1", key: "a" },
      { id: "a2", key: "a" },
      { id: "a3", key: "a" },
    ]);
    await flush();
    expect(started).toEqual(["a1"]);
    // a1 hangs for good; once it times out, a2 runs, then a3.
    vi.advanceTimersByTime(1_000);
    await flush();
    expect(started).toEqual(["a1", "a2"]);
    finish("a2");
    await flush();
    expect(started).toEqual(["a1", "a2", "a3"]);
    finish("a3");
    await flush();
    // Nothing is left to wait for (a timed-out task is not waited for), and the
    // key is free again: a new update of it runs at once.
    expect(queue.length).toBe(0);
    await queue.empty();
    void queue.add([{ id: "a4", key: "a" }]);
    await flush();
    expect(started).toEqual(["a1", "a2", "a3", "a4"]);
    finish("a4");
  });

  it("lets other keys use the slot of an update waiting for its turn", async () => {
    const { started, queue, finish } = keyed(2);
    void queue.add([
      { id: "a1", key: "a" },
      { id: "a2", key: "a" },
      { id: "b1", key: "b" },
    ]);
    await flush();
    // a2 parked while a1 runs, so b1 got its slot.
    expect(started).toEqual(["a1", "b1"]);
    expect(queue.length).toBe(3);
    expect(queue.parkedCount).toBe(1);
    finish("a1");
    await flush();
    expect(started).toEqual(["a1", "b1", "a2"]);
    expect(queue.parkedCount).toBe(0);
    finish("a2");
    finish("b1");
    await queue.empty();
    expect(queue.length).toBe(0);
  });

  it("reports no room once maxParked updates are parked", async () => {
    const { started, queue, finish } = keyed(10, 2);
    let room: number | undefined;
    void queue
      .add([
        { id: "1", key: "k" },
        { id: "2", key: "k" },
        { id: "3", key: "k" },
      ])
      .then((free) => {
        room = free;
      });
    await flush();
    expect(started).toEqual(["1"]);
    expect(queue.parkedCount).toBe(2);
    expect(room).toBeUndefined();
    finish("1");
    await flush();
    expect(started).toEqual(["1", "2"]);
    expect(room).toBe(1);
    finish("2");
    await flush();
    finish("3");
    await queue.empty();
  });

  it("lists parked updates in pendingTasks(), consistently with length", async () => {
    const { queue, finish } = keyed(2);
    void queue.add([
      { id: "a1", key: "a" },
      { id: "a2", key: "a" },
    ]);
    await flush();
    expect(queue.length).toBe(2);
    const pending = queue.pendingTasks().map((u) => u.id);
    finish("a1");
    await flush();
    finish("a2");
    await queue.empty();
    expect(pending).toEqual(["a1", "a2"]);
  });
});
