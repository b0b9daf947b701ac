import { describe, expect, it } from "vitest";
import { evalScript, Keys, SCRIPTS } from "../../src/cluster/redis-store.js";
import { run } from "../../src/index.js";
import { redisCluster } from "../../src/redis/index.js";
import { botFor, failOnUnhandled, gate, useFakeApi } from "../helpers/bot.js";
import { dropKeys, uniqueName, useRedis } from "../helpers/redis.js";

const redis = useRedis();

const ctx = useFakeApi();
failOnUnhandled();

const update = (id: number) => JSON.stringify({ update_id: id });

describe("the cluster's Lua scripts", () => {
  it("fence a deposed leader's writes and store an update_id once", async () => {
    const name = uniqueName("fence");
    const keys = new Keys(name, 2);
    const acquire = (replica: string) =>
      evalScript(
        redis.admin,
        SCRIPTS.ACQUIRE_LEADER,
        [keys.leader, keys.fence, keys.offset],
        [replica, 60_000],
      );
    const write = (lease: string, next: number, ids: number[]) =>
      evalScript(
        redis.admin,
        SCRIPTS.WRITE,
        [keys.leader, keys.hw, keys.offset, ...keys.streams],
        [lease, next, ...ids.flatMap((id) => [id % 2, id, update(id)])],
      );
    try {
      expect(await acquire("a")).toEqual([1, "-1"]);
      const [taken, ttl] = (await acquire("b")) as [number, number];
      expect(taken).toBe(0);
      expect(ttl).toBeGreaterThan(59_000);
      expect(await write("1:a", 3, [1, 2])).toEqual([2, 2]);
      // a's lease runs out (a was paused); b takes over with a larger token.
      await redis.admin.sendCommand(["DEL", keys.leader]);
      expect(await acquire("b")).toEqual([2, "3"]);
      expect(await write("1:a", 5, [3, 4])).toEqual([-1, 0]);
      // b fetches 2 again (a's batch was not confirmed to Telegram): stored once.
      expect(await write("2:b", 4, [2, 3])).toEqual([1, 3]);
      expect(await redis.admin.sendCommand(["GET", keys.offset])).toBe("4");
      expect(await evalScript(redis.admin, SCRIPTS.RENEW, [keys.leader], ["1:a", 1_000])).toBe(0);
      expect(await evalScript(redis.admin, SCRIPTS.RENEW, [keys.leader], ["2:b", 1_000])).toBe(1);
      expect(await evalScript(redis.admin, SCRIPTS.RELEASE, [keys.leader], ["1:a"])).toBe(0);
      expect(await evalScript(redis.admin, SCRIPTS.RELEASE, [keys.leader], ["2:b"])).toBe(1);
    } finally {
      await dropKeys(redis.admin, name);
    }
  });
});

describe("backpressure", () => {
  it("stops fetching while the streams hold more than maxBacklog updates", async () => {
    const name = uniqueName("backlog");
    const keys = new Keys(name, 16);
    const open = gate();
    const bot = botFor(ctx.api);
    let handled = 0;
    bot.on("message", async () => {
      await open.promise;
      handled++;
    });
    const handle = run(bot, {
      runner: { silent: true },
      cluster: redisCluster({ url: redis.url, name, maxBacklog: 100, leaseMilliseconds: 2_000 }),
    });
    try {
      ctx.api.pushMessages({ count: 1_000, chats: 50 });
      await ctx.api.waitFor(() => (handle.stats().cluster?.written ?? 0) >= 200, 10_000);
      await new Promise((r) => setTimeout(r, 500));
      const lengths = await Promise.all(
        keys.streams.map((s) => redis.admin.sendCommand(["XLEN", s])),
      );
      const stored = lengths.reduce((n: number, l) => n + Number(l), 0);
      expect(stored).toBeLessThanOrEqual(200);
      expect(ctx.api.pending()).toBeGreaterThanOrEqual(700);
      open.open();
      await ctx.api.waitFor(() => handled === 1_000, 20_000);
      await handle.stop();
      expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
    } finally {
      open.open();
      await dropKeys(redis.admin, name);
    }
  });
});
