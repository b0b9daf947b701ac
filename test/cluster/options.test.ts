import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import type { RedisClient } from "../../src/cluster/redis-options.js";
import { run } from "../../src/index.js";
import { redisCluster } from "../../src/redis/index.js";
import { botFor, failOnUnhandled, useFakeApi } from "../helpers/bot.js";
import { connectRedis, dropKeys, freePort, uniqueName, useRedis } from "../helpers/redis.js";

const redis = useRedis();

const ctx = useFakeApi();
failOnUnhandled();

describe("redisCluster() options", () => {
  it("names the option at fault", () => {
    expect(() => redisCluster({})).toThrow(/exactly one of `url`.*neither \(is REDIS_URL set\?\)/);
    expect(() => redisCluster({ url: "http://x" })).toThrow(
      /`url` must be a redis:\/\/ or rediss:\/\/ URL/,
    );
    expect(() => redisCluster({ url: redis.url, partitions: 0 })).toThrow(/partitions/);
    expect(() => redisCluster({ url: redis.url, leaseMilliseconds: 10 })).toThrow(
      /leaseMilliseconds/,
    );
    expect(() => redisCluster({ url: redis.url, name: "a b" })).toThrow(/`name`/);
    expect(() => redisCluster({ url: redis.url, client: {} as RedisClient })).toThrow(/both/);
    // @ts-expect-error an unknown option
    expect(() => redisCluster({ url: redis.url, lease: 5 })).toThrow(/lease/);
    const bot = botFor(ctx.api);
    expect(() => run(bot, { cluster: {} as never })).toThrow(/`cluster` must be a Cluster/);
  });

  it("fails the run at once with a clear message when Redis refuses the connection", async () => {
    const port = await freePort();
    const handle = run(botFor(ctx.api), {
      runner: { silent: true },
      cluster: redisCluster({ url: `redis://127.0.0.1:${port}` }),
    });
    await expect(handle.task()).rejects.toThrow(/Could not connect to Redis/);
  });

  it("refuses a name another bot uses", async () => {
    const name = uniqueName("taken");
    await redis.admin.sendCommand(["SET", `grammy-runner:{${name}}:bot`, "999"]);
    try {
      const handle = run(botFor(ctx.api), {
        runner: { silent: true },
        cluster: redisCluster({ url: redis.url, name }),
      });
      await expect(handle.task()).rejects.toThrow(/used by bot 999/);
    } finally {
      await dropKeys(redis.admin, name);
    }
  });

  it("takes a connected client and leaves it open", async () => {
    const name = uniqueName("client");
    const client = await connectRedis(redis.url);
    try {
      const bot = botFor(ctx.api);
      const seen: number[] = [];
      bot.on("message", (c) => void seen.push(c.update.update_id));
      const handle = run(bot, {
        runner: { silent: true },
        cluster: redisCluster({ client, name }),
      });
      ctx.api.pushMessages({ count: 10 });
      await ctx.api.waitFor(() => seen.length === 10, 10_000);
      await handle.stop();
      expect(client.isOpen).toBe(true);
      expect(await client.sendCommand(["PING"])).toBe("PONG");
    } finally {
      await dropKeys(redis.admin, name);
      client.destroy();
    }
  });

  it("keeps redis out of the main entry", async () => {
    const { metafile } = await build({
      entryPoints: ["src/index.ts"],
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      packages: "external",
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain("src/cluster/cluster.ts");
    expect(inputs.filter((path) => path.includes("redis"))).toEqual([]);
    const imports = Object.values(metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(imports.filter((path) => path.includes("redis"))).toEqual([]);
  });
});
