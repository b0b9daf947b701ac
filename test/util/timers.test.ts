import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_TIMER_MS, sleep, timerDelay } from "../../src/util/timers.js";

describe("timerDelay()", () => {
  it("clamps to what setTimeout honours", () => {
    expect(timerDelay(-5)).toBe(0);
    expect(timerDelay(250)).toBe(250);
    expect(timerDelay(MAX_TIMER_MS + 1)).toBe(MAX_TIMER_MS);
    expect(timerDelay(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_MS);
  });
});

describe("sleep()", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("resolves true once the time has passed", async () => {
    const done = sleep(1_000, new AbortController().signal);
    let result: boolean | undefined;
    void done.then((value) => {
      result = value;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(true);
  });

  it("resolves false at once when aborted, before or during the wait", async () => {
    const aborted = new AbortController();
    aborted.abort();
    await expect(sleep(1_000, aborted.signal)).resolves.toBe(false);
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("waits longer than the timer limit in steps instead of firing after 1 ms", async () => {
    const done = sleep(MAX_TIMER_MS + 10, new AbortController().signal);
    let result: boolean | undefined;
    void done.then((value) => {
      result = value;
    });
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10);
    expect(result).toBe(true);
  });
});
