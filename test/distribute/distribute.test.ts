import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import createDebug from "debug";
import { Bot } from "grammy";
import type { Update, UserFromGetMe } from "grammy/types";
import { afterEach, describe, expect, it } from "vitest";
import {
  type DistributeMiddleware,
  type DistributeOptions,
  distribute,
} from "../../src/distribute/distribute.js";
import { markReplayed } from "../../src/journal/journal.js";
import { botInfoFor } from "../../src/testing/builders.js";

/** Fixtures are bundled by test/global-setup.ts, because worker threads cannot load TypeScript. */
function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/.build/${name}.cjs`, import.meta.url));
}

const ECHO = fixture("worker-echo");
const CATCH = fixture("worker-catch");
const STARTUP_CRASH = fixture("worker-startup-crash");
const NONE = fixture("worker-none");
const AWAITING = fileURLToPath(new URL("../fixtures/.build/worker-await.mjs", import.meta.url));
const GATED = fileURLToPath(new URL("../fixtures/.build/worker-gated.mjs", import.meta.url));
const CHILD = fixture("distribute-child");

const me = botInfoFor("42:fixture", { first_name: "Fixture", username: "fixture_bot" });

interface TestContext {
  update: Update;
  me: UserFromGetMe;
  chat?: { id: number };
  from?: { id: number };
}

function update(id: number, chat: number, text: string): Update {
  return {
    update_id: id,
    message: {
      message_id: id,
      date: 0,
      chat: { id: chat, type: "private", first_name: "U" },
      from: { id: chat, is_bot: false, first_name: "U" },
      text,
    },
  };
}

/** The minimal context `distribute()` needs, shaped like grammY's (chat/from getters). */
function ctx(id: number, chat: number | undefined, text: string): TestContext {
  const u = update(id, chat ?? 0, text);
  return chat === undefined
    ? { update: u, me }
    : { update: u, me, chat: { id: chat }, from: { id: chat } };
}

const pools: DistributeMiddleware<TestContext>[] = [];

function pool(
  file: string | URL,
  options?: DistributeOptions<TestContext>,
): DistributeMiddleware<TestContext> {
  const middleware = distribute<TestContext>(file, options);
  pools.push(middleware);
  return middleware;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

/** Observes a promise without letting its rejection go unhandled. */
function track(promise: Promise<void>): { settled: boolean; error: Error | undefined } {
  const state = { settled: false, error: undefined as Error | undefined };
  promise.then(
    () => {
      state.settled = true;
    },
    (error: Error) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

/** Bounded wait for a condition driven by worker events. */
async function waitFor(condition: () => boolean, timeout = 5_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Deterministic "random" numbers, so a failure can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
}

function workerOf(error: unknown): number {
  const match = /^Worker (\d+) /.exec(error instanceof Error ? error.message : "");
  if (match === null) throw new Error(`Not a worker error: ${String(error)}`);
  return Number(match[1]);
}

describe("distribute() options", () => {
  it("rejects a bad count synchronously, naming the option and the value", () => {
    expect(() => distribute(ECHO, { count: 0 })).toThrow(RangeError);
    expect(() => distribute(ECHO, { count: 0 })).toThrow(/`count`.*integer >= 1.*got 0/);
    expect(() => distribute(ECHO, { count: 1.5 })).toThrow(/`count`.*got 1\.5/);
    expect(() => distribute(ECHO, { count: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => distribute(ECHO, { count: "2" as unknown as number })).toThrow(TypeError);
    expect(() => distribute(ECHO, { count: "2" as unknown as number })).toThrow(/got "2"/);
  });

  it("rejects a key that is not a function and unknown options", () => {
    const key = 5 as unknown as () => string;
    expect(() => distribute(ECHO, { key })).toThrow(TypeError);
    expect(() => distribute(ECHO, { key })).toThrow(/`key` must be a function, but got 5/);
    const typo = { cuont: 2 } as DistributeOptions<TestContext>;
    expect(() => distribute(ECHO, typo)).toThrow(/Unknown option `cuont`.*Did you mean `count`/);
    expect(() => distribute(ECHO, 3 as DistributeOptions<TestContext>)).toThrow(TypeError);
  });

  it("rejects a bad startTimeoutMilliseconds, naming the option and the value", () => {
    const bad = (value: unknown) => () =>
      distribute(ECHO, { startTimeoutMilliseconds: value as number });
    expect(bad(0)).toThrow(RangeError);
    expect(bad(0)).toThrow(/`startTimeoutMilliseconds`.*integer >= 1.*got 0/);
    expect(bad(2.5)).toThrow(RangeError);
    expect(bad("1000")).toThrow(TypeError);
    expect(bad(Number.POSITIVE_INFINITY)).not.toThrow();
  });

  it("rejects a specifier that is not a path or file URL of an existing file", () => {
    expect(() => distribute(42 as unknown as string)).toThrow(/`specifier`.*got 42/);
    expect(() => distribute("")).toThrow(TypeError);
    expect(() => distribute("../no/such/worker.js")).toThrow(/no file at .*no\/such\/worker\.js/);
    expect(() => distribute(new URL("https://example.com/worker.js"))).toThrow(/`specifier`/);
  });

  it("accepts a file URL", async () => {
    const viaUrl = pool(pathToFileURL(ECHO), { count: 1 });
    await expect(viaUrl(ctx(1, 1, "sleep:1"))).resolves.toBeUndefined();
  });

  it("sends no update before an ES module worker file's top-level await is done", async () => {
    const middleware = pool(AWAITING, { count: 1 });
    // Its handler, installed after the await, handles it: no empty bot let it through.
    await expect(middleware(ctx(1, 1, "x"))).rejects.toThrow("handled 1 after the await");
  });

  it("fails updates that waited too long for a worker still starting, later ones at once until it is ready", async () => {
    const dir = mkdtempSync(join(os.tmpdir(), "grammy-runner-gate-"));
    const ready = join(dir, "ready");
    // Read by the worker thread, which copies this environment when it starts.
    process.env.GRAMMY_RUNNER_TEST_GATE = ready;
    try {
      const middleware = pool(GATED, { count: 1, startTimeoutMilliseconds: 100 });
      const first = middleware(ctx(1, 1, "x"));
      const second = middleware(ctx(2, 2, "x"));
      // Behind update 1 in its chat: it reaches the worker's queue only once 1 has failed.
      const third = track(middleware(ctx(3, 1, "x")));
      await expect(first).rejects.toThrow(
        /^Worker 0 is still starting after an update waited 100 ms for it, so update 1 was not handled \(a worker is ready once its file/,
      );
      await expect(second).rejects.toThrow("so update 2 was not handled");
      // Failed at once, rather than after another 100 ms of its own.
      await new Promise((resolve) => setImmediate(resolve));
      expect(third.error?.message).toMatch(/^Worker 0 is still starting .* so update 3 was not/);
      expect(middleware.stats().workers[0]).toMatchObject({ alive: false, inFlight: 0 });
      // The worker was left to go on starting.
      writeFileSync(ready, "");
      await waitFor(() => middleware.stats().workers[0].alive);
      await expect(middleware(ctx(4, 1, "x"))).resolves.toBeUndefined();
      expect(middleware.stats().workers[0].restarts).toBe(0);
    } finally {
      delete process.env.GRAMMY_RUNNER_TEST_GATE;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails the updates for a worker file that creates no BotWorker, saying so", async () => {
    const middleware = pool(NONE, { count: 1 });
    await expect(middleware(ctx(1, 1, "x"))).rejects.toThrow(
      /^Worker 0 crashed with an uncaught error while starting: the worker file file:.*worker-none\.cjs created no BotWorker, so update 1 was not handled$/,
    );
  });

  it("runs an ES module worker file as well as a CommonJS one", async () => {
    const esm = fileURLToPath(new URL("../fixtures/.build/worker-echo.mjs", import.meta.url));
    const middleware = pool(esm, { count: 2 });
    await expect(middleware(ctx(1, 1, "sleep:1"))).resolves.toBeUndefined();
    await expect(middleware(ctx(2, 2, "throw"))).rejects.toThrow(/handler boom 2/);
    expect(middleware.stats().workers.some((w) => w.alive)).toBe(true);
  });

  it("defaults count to the cores minus one, at least 1, and starts no thread before an update", () => {
    const cores =
      typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
    const stats = pool(ECHO).stats();
    expect(stats.workers).toHaveLength(Math.max(1, cores - 1));
    expect(stats.workers.every((w) => !w.alive && w.inFlight === 0)).toBe(true);
  });

  it("rejects the update when the key function returns something else", async () => {
    const middleware = pool(ECHO, { count: 1, key: () => ({}) as unknown as string });
    await expect(middleware(ctx(1, 1, ""))).rejects.toThrow(
      /`key` must return a string, a number or undefined, but returned an object/,
    );
  });
});

describe("distribute() routing", () => {
  it("sends every update of a chat to the same worker and spreads chats over workers", async () => {
    const middleware = pool(ECHO, { count: 4 });
    const byChat = new Map<number, Set<number>>();
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 48; i++) {
      const chat = 1000 + (i % 12);
      calls.push(
        middleware(ctx(i + 1, chat, "throw")).then(
          () => expect.fail("the fixture throws"),
          (error: unknown) => {
            expect((error as Error).message).toMatch(`failed to handle update ${i + 1}:`);
            expect((error as Error).message).toMatch(`handler boom ${i + 1}`);
            const workers = byChat.get(chat) ?? new Set();
            workers.add(workerOf(error));
            byChat.set(chat, workers);
          },
        ),
      );
    }
    await Promise.all(calls);
    expect([...byChat.values()].every((workers) => workers.size === 1)).toBe(true);
    const used = new Set([...byChat.values()].flatMap((workers) => [...workers]));
    expect(used.size).toBeGreaterThan(1);
    expect(middleware.stats().workers.map((w) => w.inFlight)).toEqual([0, 0, 0, 0]);
  });

  it("uses the key option to route", async () => {
    const middleware = pool(ECHO, { count: 4, key: () => "everyone" });
    const errors = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => middleware(ctx(i, i, "throw")).catch((e: unknown) => e)),
    );
    expect(new Set(errors.map(workerOf)).size).toBe(1);
  });

  it("completes a chat's updates in order despite random handling times", async () => {
    const middleware = pool(ECHO, { count: 4 });
    const next = random(7);
    const completed = new Map<number, number[]>();
    const calls: Promise<void>[] = [];
    for (let i = 1; i <= 60; i++) {
      const chat = -100 - (i % 6);
      const delay = Math.floor(next() * 30);
      calls.push(
        middleware(ctx(i, chat, `sleep:${delay}`)).then(() => {
          completed.set(chat, [...(completed.get(chat) ?? []), i]);
        }),
      );
    }
    await Promise.all(calls);
    expect(completed.size).toBe(6);
    for (const ids of completed.values()) {
      expect(ids).toHaveLength(10);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
  });

  it("handles updates without a chat or user by their update_id", async () => {
    const middleware = pool(ECHO, { count: 2 });
    await Promise.all([1, 2, 3, 4].map((i) => middleware(ctx(i, undefined, "sleep:1"))));
    expect(middleware.stats().workers.every((w) => w.alive && w.inFlight === 0)).toBe(true);
  });

  it("tells a worker's handler which updates were replayed from the journal", async () => {
    const middleware = pool(ECHO, { count: 1 });
    const replayed = ctx(2, 1, "replayed?");
    markReplayed(replayed.update);
    await expect(middleware(ctx(1, 1, "replayed?"))).rejects.toThrow(/: replayed: false$/);
    await expect(middleware(replayed)).rejects.toThrow(/: replayed: true$/);
  });

  it("counts in-flight updates per worker", async () => {
    const middleware = pool(ECHO, { count: 1 });
    const hanging = track(middleware(ctx(1, 1, "hang")));
    await waitFor(() => middleware.stats().workers[0].alive);
    expect(middleware.stats().workers[0].inFlight).toBe(1);
    expect(hanging.settled).toBe(false);
  });
});

describe("distribute() errors", () => {
  it("rejects with the worker's message when the worker has no bot.catch", async () => {
    const middleware = pool(ECHO, { count: 1 });
    const error = await middleware(ctx(3, 1, "throw")).then(
      () => expect.fail("the fixture throws"),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe("Worker 0 failed to handle update 3: handler boom 3");
    const cause = error.cause as Error;
    expect(cause.message).toBe("handler boom 3");
    expect(cause.stack).toMatch(/handler boom 3/);
    // A middleware error must not cost the worker its life.
    await expect(middleware(ctx(4, 1, "sleep:1"))).resolves.toBeUndefined();
    expect(middleware.stats().workers[0]).toMatchObject({ restarts: 0, alive: true });
  });

  it("resolves when the worker's own bot.catch handles the error", async () => {
    const middleware = pool(CATCH, { count: 1 });
    await expect(middleware(ctx(1, 1, "anything"))).resolves.toBeUndefined();
  });

  it("rejects when the worker's bot.catch throws too", async () => {
    const middleware = pool(CATCH, { count: 1 });
    await expect(middleware(ctx(2, 1, "catch-throw"))).rejects.toThrow(
      "Worker 0 failed to handle update 2: error handler failed too",
    );
  });

  it("reaches the central bot.catch of a real grammY bot, with ctx.me as the worker's botInfo", async () => {
    const bot = new Bot("123456:central-token-not-used-for-requests", { botInfo: me });
    const middleware = distribute(ECHO, { count: 2 });
    pools.push(middleware as unknown as DistributeMiddleware<TestContext>);
    bot.use(middleware);
    const caught: string[] = [];
    bot.catch((err) => {
      caught.push(err.error instanceof Error ? err.error.message : String(err.error));
    });
    // What the runner does with each update: handle it, hand failures to bot.catch.
    const handle = (u: Update) => bot.handleUpdate(u).catch((err) => bot.errorHandler(err));
    await handle(update(1, 5, "sleep:1"));
    await handle(update(2, 5, "whoami"));
    expect(caught).toHaveLength(1);
    expect(caught[0]).toMatch(/^Worker \d failed to handle update 2: I am fixture_bot$/);
  });
});

describe("distribute() crashes", () => {
  it("rejects in-flight updates when a worker exits, restarts it and goes on", async () => {
    const middleware = pool(ECHO, { count: 1 });
    const hanging = middleware(ctx(1, 1, "hang")).catch((e: unknown) => e as Error);
    const exiting = middleware(ctx(2, 2, "exit")).catch((e: unknown) => e as Error);
    expect((await hanging)?.message).toBe("Worker 0 exited with code 1 while handling update 1");
    expect((await exiting)?.message).toBe("Worker 0 exited with code 1 while handling update 2");
    await expect(middleware(ctx(3, 1, "sleep:1"))).resolves.toBeUndefined();
    expect(middleware.stats().workers[0]).toMatchObject({
      index: 0,
      inFlight: 0,
      restarts: 1,
      alive: true,
      lastError: "exited with code 1",
    });
  });

  it("rejects in-flight updates when a worker throws asynchronously, restarts it and goes on", async () => {
    const middleware = pool(ECHO, { count: 1 });
    const hanging = middleware(ctx(1, 1, "hang")).catch((e: unknown) => e as Error);
    const throwing = middleware(ctx(2, 2, "async-throw")).catch((e: unknown) => e as Error);
    const crash = /^Worker 0 crashed with an uncaught error while handling update \d: async boom$/;
    expect((await hanging)?.message).toMatch(crash);
    expect((await throwing)?.message).toMatch(crash);
    await expect(middleware(ctx(3, 1, "sleep:1"))).resolves.toBeUndefined();
    expect(middleware.stats().workers[0]).toMatchObject({ inFlight: 0, restarts: 1, alive: true });
    expect(middleware.stats().workers[0].lastError).toMatch(/async boom/);
  });

  it("keeps the other workers' updates running while one worker crashes", async () => {
    const middleware = pool(ECHO, { count: 4, key: (c) => c.update.update_id % 4 });
    // Keys 0..3 hash to some workers; pick a crashing and a surviving update on different ones.
    const errors = await Promise.all(
      [4, 1, 2, 3].map((i) => middleware(ctx(i, i, "throw")).catch((e: unknown) => e)),
    );
    const workers = errors.map(workerOf);
    const other = workers.findIndex((w) => w !== workers[0]);
    expect(other).toBeGreaterThan(0);
    const survivor = track(middleware(ctx(100 + [4, 1, 2, 3][other], 1, "sleep:200")));
    await expect(middleware(ctx(8, 1, "exit"))).rejects.toThrow(/exited with code 1/);
    await waitFor(() => survivor.settled);
    expect(survivor.error).toBeUndefined();
  });

  it("backs off a worker that crashes while starting, fails the updates waiting for it and logs it", async () => {
    const logged: string[] = [];
    const previousLog = createDebug.log;
    const previousNamespaces = createDebug.disable();
    createDebug.log = (...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    };
    createDebug.enable("grammy-runner:distribute");
    try {
      const middleware = pool(STARTUP_CRASH, { count: 1 });
      // Waiting for the first start, which fails: the update fails with it.
      await expect(middleware(ctx(1, 1, "sleep:1"))).rejects.toThrow(
        "Worker 0 crashed with an uncaught error while starting: startup boom, so update 1 was not handled",
      );
      const restarts = () => middleware.stats().workers[0].restarts;
      await waitFor(() => restarts() >= 2);
      // One that arrives during the back-off waits for the next try.
      const waiting = track(middleware(ctx(2, 1, "sleep:1")));
      // Measurement window: without backoff, a worker that dies at once is
      // restarted dozens of times a second; with it, the 3rd restart alone
      // waits 200 ms, the 4th 400 ms.
      const before = restarts();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(restarts() - before).toBeLessThan(5);
      // That try failed too, and update 2 with it: nothing waits for good.
      await waitFor(() => waiting.settled, 15_000);
      expect(waiting.error?.message).toBe(
        "Worker 0 crashed with an uncaught error while starting: startup boom, so update 2 was not handled",
      );
      const { alive, lastError, inFlight } = middleware.stats().workers[0];
      expect(alive).toBe(false);
      expect(inFlight).toBe(0);
      expect(lastError).toBe("crashed with an uncaught error while starting: startup boom");
      expect(
        logged.some((line) => /worker 0 crashed .*startup boom; restarting in \d+ ms/.test(line)),
      ).toBe(true);
    } finally {
      createDebug.log = previousLog;
      createDebug.disable();
      if (previousNamespaces !== "") createDebug.enable(previousNamespaces);
    }
  });
});

describe("distribute() shutdown", () => {
  it("close() terminates the workers and rejects pending and later updates", async () => {
    const middleware = pool(ECHO, { count: 2 });
    const hanging = track(middleware(ctx(1, 1, "hang")));
    await waitFor(() => middleware.stats().workers.every((w) => w.alive));
    await middleware.close();
    await middleware.close();
    await waitFor(() => hanging.settled);
    expect(hanging.error?.message).toMatch(
      /^distribute\(\) was closed before update 1 was handled/,
    );
    expect(middleware.stats().workers.every((w) => !w.alive && w.inFlight === 0)).toBe(true);
    await expect(middleware(ctx(2, 1, ""))).rejects.toThrow(/closed before update 2/);
  });

  it("close() before the first update starts nothing", async () => {
    const middleware = pool(ECHO, { count: 2 });
    await middleware.close();
    await expect(middleware(ctx(1, 1, ""))).rejects.toThrow(/closed/);
    expect(middleware.stats().workers.every((w) => !w.alive)).toBe(true);
  });

  it("lets a process exit by itself when its work is done, even after a worker crash", async () => {
    const child = spawn(process.execPath, [CHILD, ECHO], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    clearTimeout(timer);
    expect(output.trim()).toBe("done, 1 failed");
    expect(code).toBe(0);
  });
});
