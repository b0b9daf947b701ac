import type { AbortSignal as GrammySignal } from "abort-controller";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type BotAdapter,
  createUpdateFetcher,
  RunnerError,
  type RunnerOptions,
} from "../../src/index.js";
import { failOnUnhandled } from "../helpers/bot.js";

failOnUnhandled();

interface U {
  update_id: number;
}

type GetUpdatesArgs = { offset: number; limit: number; timeout: number };

/** A hand-made bot: just what the fetcher calls, every member a spy. */
function adapter() {
  const getUpdates = vi.fn<(args: GetUpdatesArgs, signal: GrammySignal) => Promise<U[]>>();
  const deleteWebhook =
    vi.fn<(args?: { drop_pending_updates?: boolean }, signal?: GrammySignal) => Promise<unknown>>();
  const init = vi.fn<(signal?: GrammySignal) => Promise<void>>(async () => {});
  const bot = {
    init,
    handleUpdate: vi.fn(async () => {}),
    errorHandler: vi.fn(),
    api: { getUpdates, deleteWebhook },
  } satisfies BotAdapter<U, unknown>;
  return { bot, getUpdates, deleteWebhook, init };
}

const serverError = () => ({ error_code: 500, description: "x" });

function signal(): { controller: AbortController; signal: GrammySignal } {
  const controller = new AbortController();
  return { controller, signal: controller.signal as unknown as GrammySignal };
}

/** The fake-clock times of every getUpdates call. */
function callTimes(getUpdates: ReturnType<typeof adapter>["getUpdates"], times: number[]): void {
  getUpdates.mockImplementation(async () => {
    times.push(Date.now());
    throw serverError();
  });
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]);
}

/** The waits between getUpdates calls while every call fails for `forMs` of fake time. */
async function retryWaits(options: RunnerOptions, forMs: number): Promise<number[]> {
  const { bot, getUpdates } = adapter();
  const times: number[] = [];
  callTimes(getUpdates, times);
  const fetch = createUpdateFetcher(bot, { silent: true, ...options });
  const { controller, signal: s } = signal();
  const pending = fetch(100, s).catch((e: unknown) => e);
  await vi.advanceTimersByTimeAsync(forMs);
  controller.abort();
  await pending;
  return gaps(times);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("createUpdateFetcher backoff", () => {
  it("grows exponentially from 100 ms and never waits longer than maxRetryInterval", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999_999);
    const waits = await retryWaits({ maxRetryInterval: 1_000 }, 20_000);
    expect(waits.length).toBeGreaterThan(10);
    for (const w of waits) expect(w).toBeLessThanOrEqual(1_000);
    // 100, 200, 400, 800, then capped (random ~1 means almost no jitter;
    // timers round fractional delays down).
    const bases = [100, 200, 400, 800, 1_000, 1_000];
    waits.slice(0, 6).forEach((w, i) => {
      expect(w).toBeGreaterThanOrEqual(bases[i] - 1);
      expect(w).toBeLessThanOrEqual(bases[i]);
    });
    expect(waits.at(-1)).toBeGreaterThanOrEqual(999);
  });

  it("jitters each wait down to half its length", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const waits = await retryWaits({ maxRetryInterval: 1_000 }, 5_000);
    expect(waits.slice(0, 6)).toEqual([50, 100, 200, 400, 500, 500]);
  });

  it("draws a new jitter for every wait, within [half, full] of the base", async () => {
    const draws = [0, 0.9, 0.5, 0.25];
    let i = 0;
    vi.spyOn(Math, "random").mockImplementation(() => draws[i++ % draws.length]);
    const waits = await retryWaits({ retryInterval: 1_000 }, 3_100);
    // Constant 1 s base: 500, 950, 750, 625.
    expect(waits.slice(0, 4)).toEqual([500, 950, 750, 625]);
  });

  it("makes the 2nd wait longer than the 1st on average, under any jitter", async () => {
    // A deterministic pseudo-random sequence (LCG) instead of Math.random.
    let seed = 42;
    vi.spyOn(Math, "random").mockImplementation(() => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    });
    let first = 0;
    let second = 0;
    for (let trial = 0; trial < 40; trial++) {
      const { bot, getUpdates } = adapter();
      const times: number[] = [];
      getUpdates.mockImplementation(async () => {
        times.push(Date.now());
        if (times.length <= 2) throw serverError();
        return [];
      });
      const fetch = createUpdateFetcher(bot, { silent: true });
      const pending = fetch(100, signal().signal);
      await vi.advanceTimersByTimeAsync(1_000);
      await expect(pending).resolves.toEqual([]);
      const [a, b] = gaps(times);
      expect(a).toBeGreaterThanOrEqual(50);
      expect(a).toBeLessThanOrEqual(100);
      expect(b).toBeGreaterThanOrEqual(100);
      expect(b).toBeLessThanOrEqual(200);
      first += a;
      second += b;
    }
    expect(second / 40).toBeGreaterThan(first / 40);
  });

  it("adds 100 ms per retry with retryInterval quadratic", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const waits = await retryWaits({ retryInterval: "quadratic", maxRetryInterval: 400 }, 2_000);
    expect(waits.slice(0, 6)).toEqual([50, 100, 150, 200, 200, 200]);
  });

  it("counts retries and starts over from the first interval on the next fetch", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { bot, getUpdates } = adapter();
    const times: number[] = [];
    getUpdates
      .mockImplementationOnce(async () => {
        times.push(Date.now());
        throw serverError();
      })
      .mockImplementationOnce(async () => {
        times.push(Date.now());
        throw serverError();
      })
      .mockImplementationOnce(async () => [{ update_id: 1 }])
      .mockImplementationOnce(async () => {
        times.push(Date.now());
        throw serverError();
      })
      .mockImplementationOnce(async () => {
        times.push(Date.now());
        return [{ update_id: 2 }];
      });
    const fetch = createUpdateFetcher(bot, { silent: true });
    const first = fetch(100, signal().signal);
    await vi.advanceTimersByTimeAsync(150);
    await expect(first).resolves.toEqual([{ update_id: 1 }]);
    const second = fetch(100, signal().signal);
    await vi.advanceTimersByTimeAsync(50);
    await expect(second).resolves.toEqual([{ update_id: 2 }]);
    expect(gaps(times.slice(2))).toEqual([50]);
    expect(getUpdates).toHaveBeenCalledTimes(5);
  });
});

describe("createUpdateFetcher 429", () => {
  it("waits exactly retry_after seconds, uncapped and without jitter", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { bot, getUpdates } = adapter();
    getUpdates
      .mockRejectedValueOnce({
        error_code: 429,
        description: "Too Many Requests: retry after 3",
        parameters: { retry_after: 3 },
      })
      .mockResolvedValueOnce([{ update_id: 7 }]);
    const fetch = createUpdateFetcher(bot, { maxRetryInterval: 1_000, silent: true });
    const pending = fetch(100, signal().signal);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(getUpdates).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(getUpdates).toHaveBeenCalledTimes(2);
    await expect(pending).resolves.toEqual([{ update_id: 7 }]);
  });

  it("is aborted at once by the signal during a long retry_after", async () => {
    const { bot, getUpdates } = adapter();
    getUpdates.mockRejectedValue({
      error_code: 429,
      description: "Too Many Requests: retry after 60",
      parameters: { retry_after: 60 },
    });
    const fetch = createUpdateFetcher(bot, { silent: true });
    const { controller, signal: s } = signal();
    const pending = fetch(100, s);
    const outcome = pending.then(
      () => "resolved",
      () => "rejected",
    );
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    await expect(outcome).resolves.toBe("rejected");
    expect(getUpdates).toHaveBeenCalledTimes(1);
  });
});

describe("createUpdateFetcher fatal answers", () => {
  it("ends with retry_time_exceeded after failing longer than maxRetryTime", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { bot, getUpdates } = adapter();
    getUpdates.mockRejectedValue(serverError());
    const fetch = createUpdateFetcher(bot, {
      retryInterval: 200,
      maxRetryTime: 1_000,
      silent: true,
    });
    const pending = fetch(100, signal().signal);
    const caught = pending.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2_000);
    const error = await caught;
    expect(error).toBeInstanceOf(RunnerError);
    expect((error as RunnerError).code).toBe("retry_time_exceeded");
    expect((error as RunnerError).message).toContain("maxRetryTime");
    // 100 ms waits (base 200, jitter 0.5): about ten calls, not a busy loop.
    expect(getUpdates.mock.calls.length).toBeGreaterThanOrEqual(9);
    expect(getUpdates.mock.calls.length).toBeLessThanOrEqual(12);
  });

  it.each([
    [{ error_code: 401, description: "Unauthorized" }, "unauthorized"],
    [
      { error_code: 409, description: "Conflict: terminated by other getUpdates request" },
      "conflict",
    ],
  ])("rejects at once on %o with code %s", async (answer, code) => {
    const { bot, getUpdates } = adapter();
    getUpdates.mockRejectedValue(answer);
    const fetch = createUpdateFetcher(bot, { silent: true });
    const error = await fetch(100, signal().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnerError);
    expect((error as RunnerError).code).toBe(code);
    expect((error as RunnerError).cause).toBe(answer);
    expect(getUpdates).toHaveBeenCalledTimes(1);
  });

  it("deletes an active webhook once and goes on", async () => {
    const { bot, getUpdates, deleteWebhook } = adapter();
    const webhook = {
      error_code: 409,
      description: "Conflict: can't use getUpdates method while webhook is active",
    };
    getUpdates.mockRejectedValueOnce(webhook).mockResolvedValueOnce([{ update_id: 1 }]);
    deleteWebhook.mockResolvedValue(true);
    const fetch = createUpdateFetcher(bot, { silent: true });
    await expect(fetch(100, signal().signal)).resolves.toEqual([{ update_id: 1 }]);
    expect(deleteWebhook).toHaveBeenCalledTimes(1);
    expect(deleteWebhook.mock.calls[0][0]).not.toMatchObject({ drop_pending_updates: true });
  });

  it("rejects with webhook_active when deleteWebhook is false", async () => {
    const { bot, getUpdates, deleteWebhook } = adapter();
    getUpdates.mockRejectedValue({
      error_code: 409,
      description: "Conflict: can't use getUpdates method while webhook is active",
    });
    const fetch = createUpdateFetcher(bot, { deleteWebhook: false, silent: true });
    const error = await fetch(100, signal().signal).catch((e: unknown) => e);
    expect((error as RunnerError).code).toBe("webhook_active");
    expect(deleteWebhook).not.toHaveBeenCalled();
  });
});

describe("createUpdateFetcher webhook without deleteWebhook", () => {
  it("ends with webhook_active when the webhook cannot be deleted", async () => {
    const { bot, getUpdates } = adapter();
    const noDelete = { ...bot, api: { getUpdates } };
    getUpdates.mockRejectedValue({
      error_code: 409,
      description: "Conflict: can't use getUpdates method while webhook is active",
    });
    const fetch = createUpdateFetcher(noDelete, { silent: true });
    const { controller, signal: s } = signal();
    const caught = fetch(100, s).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10_000);
    controller.abort();
    const error = await caught;
    expect((error as RunnerError).code).toBe("webhook_active");
    expect(getUpdates).toHaveBeenCalledTimes(1);
  });
});

describe("createUpdateFetcher offsets and start-up", () => {
  it("initialises the bot, drops pending updates, then polls from the next offset", async () => {
    const { bot, getUpdates, deleteWebhook, init } = adapter();
    const order: string[] = [];
    init.mockImplementation(async () => void order.push("init"));
    deleteWebhook.mockImplementation(async () => {
      order.push("deleteWebhook");
      return true;
    });
    getUpdates.mockImplementation(async (args) => {
      order.push(`getUpdates ${args.offset}`);
      return args.offset === 0 ? [{ update_id: 3 }, { update_id: 4 }] : [];
    });
    const fetch = createUpdateFetcher(bot, { drop_pending_updates: true, fetch: { timeout: 5 } });
    expect(await fetch(500, signal().signal)).toHaveLength(2);
    expect(await fetch(0, signal().signal)).toEqual([]);
    expect(order).toEqual(["init", "deleteWebhook", "getUpdates 0", "getUpdates 5"]);
    expect(deleteWebhook.mock.calls[0][0]).toEqual({ drop_pending_updates: true });
    expect(getUpdates.mock.calls[0][0]).toMatchObject({ offset: 0, limit: 100, timeout: 5 });
    expect(getUpdates.mock.calls[1][0]).toMatchObject({ offset: 5, limit: 1 });
    expect(init).toHaveBeenCalledTimes(1);
  });

  it("keeps each id once, in increasing order, and never moves the offset back", async () => {
    const { bot, getUpdates } = adapter();
    getUpdates
      .mockResolvedValueOnce([{ update_id: 5 }, { update_id: 5 }, { update_id: 3 }])
      .mockResolvedValueOnce([{ update_id: 4 }, { update_id: 6 }])
      .mockResolvedValueOnce([]);
    const fetch = createUpdateFetcher(bot, { silent: true });
    expect(await fetch(100, signal().signal)).toEqual([{ update_id: 5 }]);
    expect(await fetch(100, signal().signal)).toEqual([{ update_id: 6 }]);
    expect(await fetch(100, signal().signal)).toEqual([]);
    expect(getUpdates.mock.calls.map((c) => c[0].offset)).toEqual([0, 6, 7]);
  });
});

describe("createUpdateFetcher long waits", () => {
  it("does not busy-loop when a wait exceeds the longest timer Node supports (~24.8 days)", async () => {
    vi.useRealTimers();
    // Keep Node's TimeoutOverflowWarning out of the output.
    vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    const { bot, getUpdates } = adapter();
    getUpdates.mockRejectedValue(serverError());
    // Both options accept values up to Number.MAX_SAFE_INTEGER.
    const fetch = createUpdateFetcher(bot, {
      retryInterval: 3e9,
      maxRetryInterval: 4e9,
      maxRetryTime: Number.POSITIVE_INFINITY,
      silent: true,
    });
    const { controller, signal: s } = signal();
    const pending = fetch(100, s).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort();
    await pending;
    expect(getUpdates.mock.calls.length).toBe(1);
  });
});
