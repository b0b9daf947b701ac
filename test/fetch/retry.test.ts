import { afterEach, describe, expect, it, vi } from "vitest";
import { Backoff, classify, fatalError, retryPolicy } from "../../src/fetch/retry.js";
import { RunnerError } from "../../src/index.js";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("classify", () => {
  it("tells the answers retrying cannot fix by their fields, from any grammY copy", () => {
    expect(classify({ error_code: 401, description: "Unauthorized" })).toBe("unauthorized");
    expect(
      classify({ error_code: 409, description: "Conflict: terminated by other getUpdates" }),
    ).toBe("conflict");
    expect(
      classify({
        error_code: 409,
        description: "Conflict: can't use getUpdates while Webhook is active",
      }),
    ).toBe("webhook");
    expect(classify({ error_code: 409 })).toBe("conflict");
    for (const other of [{ error_code: 429 }, { error_code: 500 }, new Error("401"), undefined])
      expect(classify(other)).toBeUndefined();
  });

  it("keeps the answer as the cause of the RunnerError", () => {
    const answer = { error_code: 401 };
    const error = fatalError("unauthorized", answer);
    expect(error).toBeInstanceOf(RunnerError);
    expect(error.code).toBe("unauthorized");
    expect(error.cause).toBe(answer);
  });
});

describe("Backoff", () => {
  it("waits retry_after exactly on a 429 and does not grow the base wait for it", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999_999);
    const backoff = new Backoff(retryPolicy("exponential", 30_000, 3_600_000));
    backoff.failed();
    expect(backoff.next({ error_code: 429, parameters: { retry_after: 7 } }, "x", "")).toBe(7_000);
    expect(backoff.next({ error_code: 400, parameters: { retry_after: 7 } }, "x", "")).toBeCloseTo(
      100,
    );
    expect(backoff.next({ error_code: 500 }, "x", "")).toBeCloseTo(200);
  });

  it("gives up when the next wait would end past maxRetryTime, counting from the first failure", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const backoff = new Backoff(retryPolicy(1_000, 1_000, 5_000));
    backoff.failed();
    vi.advanceTimersByTime(3_000);
    backoff.failed();
    expect(backoff.next(new Error("down"), "getUpdates", "down")).toBeLessThanOrEqual(1_000);
    vi.advanceTimersByTime(2_000);
    expect(() => backoff.next(new Error("down"), "getUpdates", "down")).toThrow(
      expect.objectContaining({
        code: "retry_time_exceeded",
        message: expect.stringContaining("Last error: down"),
      }),
    );
  });
});
