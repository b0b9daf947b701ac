import { expect, it } from "vitest";
import { run } from "../../src/index.js";
import { redisCluster } from "../../src/redis/index.js";
import { botFor, failOnUnhandled, useFakeApi } from "../helpers/bot.js";
import { startRedisServer } from "../helpers/redis.js";

const ctx = useFakeApi();
failOnUnhandled();

/** The stream commands a Redis before 5.0 lacks, renamed away. */
const STREAM_COMMANDS = ["XADD", "XLEN", "XGROUP", "XREADGROUP", "XACK", "XDEL", "XAUTOCLAIM"];

it.each([
  ["without streams", STREAM_COMMANDS],
  // Found only when the leader's first batch is stored, by the script that stores it.
  ["without XADD alone", ["XADD"]],
])("a Redis %s ends the run with a clear error", async (_, missing) => {
  const server = await startRedisServer(
    undefined,
    undefined,
    missing.flatMap((c) => ["--rename-command", c, ""]),
  );
  if (missing.length === 1) ctx.api.pushMessages({ count: 3, chats: 1 });
  try {
    const bot = botFor(ctx.api);
    const handle = run(bot, {
      runner: { silent: true },
      cluster: redisCluster({ url: server.url, leaseMilliseconds: 1_000 }),
    });
    await expect(handle.task()).rejects.toThrow(
      /cannot use Redis \(.*unknown (redis )?command.*\).*Redis 5 or later with streams/i,
    );
    expect(handle.isRunning()).toBe(false);
    // Nothing was stored, so nothing was confirmed: Telegram keeps the updates.
    expect(ctx.api.stats.confirmedOffset).toBe(0);
  } finally {
    server.process.kill("SIGKILL");
  }
});
