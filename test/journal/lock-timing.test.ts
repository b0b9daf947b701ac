import { describe, expect, it } from "vitest";
import { checkLockTiming, LOCK_TIMING, type LockTiming } from "../../src/journal/lock.js";

describe("the journal lock's timing", () => {
  it("keeps its order", () => {
    expect(() => checkLockTiming(LOCK_TIMING)).not.toThrow();
  });

  it.each<[string, Partial<LockTiming>, RegExp]>([
    ["a touch interval past the recheck", { touchMs: 13_000 }, /touchMs < recheckMs/],
    ["a recheck as long as the watch", { recheckMs: 15_000 }, /recheckMs < watchMs/],
    ["looks too far apart to see a touch", { watchPollMs: 5_000 }, /watchPollMs < watchMs/],
    ["a slow stay-put", { stayPutMissingMs: 4_000 }, /stayPutMissingMs \+ touchMs/],
    ["a freshness shorter than a touch interval", { freshMs: 9_000 }, /touchMs < freshMs/],
    [
      "a stay-put longer when present than missing",
      { stayPutMs: 600 },
      /stayPutMs <= stayPutMissingMs/,
    ],
    ["no stay-put", { stayPutMs: 0 }, /0 < stayPutMs/],
  ])("rejects %s", (_, change, rule) => {
    expect(() => checkLockTiming({ ...LOCK_TIMING, ...change })).toThrow(rule);
  });
});
