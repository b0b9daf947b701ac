import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { distribute } from "../../src/distribute/distribute.js";
import { isReplayed, run } from "../../src/index.js";
import { redisCluster } from "../../src/redis/index.js";
import { botFor, failOnUnhandled, useFakeApi } from "../helpers/bot.js";
import { Handled } from "../helpers/handled.js";
import { dropKeys, uniqueName, useRedis } from "../helpers/redis.js";

const redis = useRedis();
const ctx = useFakeApi();
failOnUnhandled();

/** Bundled by test/global-setup.ts: worker threads cannot load TypeScript. */
const ECHO = fileURLToPath(new URL("../fixtures/.build/worker-echo.cjs", import.meta.url));

const name = uniqueName("distribute");
afterEach(async () => {
  await dropKeys(redis.admin, name);
});

it("works with distribute() inside each replica: every update handled in a worker thread", async () => {
  const seen = new Handled();
  const strays: unknown[] = [];
  const replicas = [0, 1].map(() => {
    const bot = botFor(ctx.api);
    const middleware = distribute(ECHO, { count: 2 });
    bot.use(middleware);
    // "whoami" makes the worker throw with its own ctx.me: the proof it ran in a worker.
    bot.catch((error) => {
      const c = error.ctx;
      if (!/failed to handle update \d+: I am /.test(String((error.error as Error)?.message)))
        strays.push(error.error);
      else seen.add(c.chat?.id ?? 0, c.update.update_id, isReplayed(c.update));
    });
    const handle = run(bot, {
      runner: { silent: true },
      cluster: redisCluster({ url: redis.url, name, partitions: 4, leaseMilliseconds: 1_500 }),
    });
    return { handle, middleware };
  });
  try {
    await ctx.api.waitFor(
      () => replicas.every((r) => (r.handle.stats().cluster?.partitions.length ?? 0) > 0),
      30_000,
    );
    ctx.api.pushMessages({ count: 200, chats: 20, text: () => "whoami" });
    await ctx.api.waitFor(() => seen.distinct() === 200, 30_000);
  } finally {
    await Promise.all(replicas.map((r) => r.handle.stop()));
    await Promise.all(replicas.map((r) => r.middleware.close()));
  }
  seen.expectComplete(200);
  expect(strays).toEqual([]);
  for (const r of replicas) await expect(r.handle.task()).resolves.toBeUndefined();
  expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
}, 70_000);
