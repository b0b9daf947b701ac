import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { run, sequentialize } from "../../src/index.js";
import { redisCluster } from "../../src/redis/index.js";
import { botFor, failOnUnhandled, useFakeApi } from "../helpers/bot.js";
import { dropKeys, keysOf, startRedisServer, uniqueName, useRedis } from "../helpers/redis.js";

const redis = useRedis();

const ctx = useFakeApi();
failOnUnhandled();

const names: string[] = [];
afterEach(async () => {
  for (const name of names.splice(0)) await dropKeys(redis.admin, name);
});

function newName(label: string): string {
  const name = uniqueName(label);
  names.push(name);
  return name;
}

/** A replica: a bot that records, per chat, the update_ids it handled. */
function replica(
  name: string,
  seen: Map<number, number[]>,
  options: { leaseMilliseconds?: number; url?: string } = {},
) {
  const bot = botFor(ctx.api);
  bot.use(sequentialize((c) => c.chat?.id.toString()));
  bot.on("message", async (c) => {
    await new Promise((r) => setTimeout(r, 1 + (c.update.update_id % 4)));
    const list = seen.get(c.chat.id) ?? [];
    list.push(c.update.update_id);
    seen.set(c.chat.id, list);
  });
  return run(bot, {
    runner: { silent: true },
    cluster: redisCluster({
      url: options.url ?? redis.url,
      name,
      leaseMilliseconds: options.leaseMilliseconds ?? 1_500,
      partitions: 8,
    }),
  });
}

describe("redisCluster()", () => {
  it("one replica handles everything in per-chat order, stores and trims, and confirms on stop", async () => {
    const name = newName("one");
    const seen = new Map<number, number[]>();
    const updates = ctx.api.pushMessages({ count: 300, chats: 12 });
    const handle = replica(name, seen);
    await ctx.api.waitFor(
      () => [...seen.values()].reduce((n, l) => n + l.length, 0) === 300,
      15_000,
    );
    const stats = handle.stats();
    expect(stats.cluster).toMatchObject({
      role: "leader",
      takeovers: 1,
      written: 300,
      replayed: 0,
    });
    expect(stats.cluster?.partitions).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await handle.stop();
    await expect(handle.task()).resolves.toBeUndefined();
    for (const list of seen.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
    expect(ctx.api.stats.confirmedOffset).toBe(updates[updates.length - 1].update_id + 1);
    expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
    // Acknowledged entries are deleted; the leases are released.
    const left = await keysOf(redis.admin, name);
    for (const key of left)
      if (key.includes(":s:")) expect(await redis.admin.sendCommand(["XLEN", key])).toBe(0);
    expect(left.some((k) => k.endsWith(":leader") || k.includes(":part:"))).toBe(false);
  });

  it("three replicas share the partitions, one polls, and each update is handled once", async () => {
    const name = newName("three");
    const seen = new Map<number, number[]>();
    const handles = [replica(name, seen), replica(name, seen), replica(name, seen)];
    const updates = ctx.api.pushMessages({ count: 600, chats: 40 });
    await ctx.api.waitFor(
      () => [...seen.values()].reduce((n, l) => n + l.length, 0) >= 600,
      20_000,
    );
    // Wait for the rebalance to settle, then check the spread.
    await ctx.api.waitFor(
      () => handles.every((h) => (h.stats().cluster?.partitions.length ?? 0) >= 2),
      10_000,
    );
    const roles = handles.map((h) => h.stats().cluster?.role);
    expect(roles.filter((r) => r === "leader")).toHaveLength(1);
    const owned = handles.flatMap((h) => h.stats().cluster?.partitions ?? []);
    expect(owned.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await Promise.all(handles.map((h) => h.stop()));
    const all = [...seen.values()].flat();
    expect(all).toHaveLength(600);
    expect(new Set(all).size).toBe(600);
    for (const list of seen.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
    expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
    expect(ctx.api.stats.confirmedOffset).toBe(updates[updates.length - 1].update_id + 1);
  });

  it("a graceful stop of the leader hands polling over at once", async () => {
    const name = newName("handover");
    const seen = new Map<number, number[]>();
    const first = replica(name, seen, { leaseMilliseconds: 30_000 });
    await ctx.api.waitFor(() => first.stats().cluster?.role === "leader", 5_000);
    const second = replica(name, seen, { leaseMilliseconds: 30_000 });
    await ctx.api.waitFor(() => (second.stats().cluster?.partitions.length ?? 0) > 0, 10_000);
    await first.stop();
    const stoppedAt = Date.now();
    await ctx.api.waitFor(() => second.stats().cluster?.role === "leader", 5_000);
    // Far below the 30 s lease: the lease was released, not left to expire.
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    ctx.api.pushMessages({ count: 50, chats: 5 });
    await ctx.api.waitFor(
      () => [...seen.values()].reduce((n, l) => n + l.length, 0) === 50,
      10_000,
    );
    expect(second.stats().cluster?.partitions).toHaveLength(8);
    await second.stop();
    expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
  });

  it("pauses while Redis restarts and loses nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "grammy-runner-redis-"));
    let server = await startRedisServer(dir);
    const name = uniqueName("restart");
    const seen = new Map<number, number[]>();
    const count = () => [...seen.values()].reduce((n, l) => n + l.length, 0);
    const handles = [
      replica(name, seen, { url: server.url }),
      replica(name, seen, { url: server.url }),
    ];
    try {
      const first = ctx.api.pushMessages({ count: 200, chats: 20 });
      await ctx.api.waitFor(() => count() >= 50, 10_000);
      server.process.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 1_000));
      const during = ctx.api.pushMessages({ count: 100, chats: 20 });
      server = await startRedisServer(dir, server.port);
      await ctx.api.waitFor(() => new Set([...seen.values()].flat()).size === 300, 20_000);
      await Promise.all(handles.map((h) => h.stop()));
      for (const h of handles) await expect(h.task()).resolves.toBeUndefined();
      const firsts = new Map<number, number[]>();
      for (const [chat, list] of seen) firsts.set(chat, [...new Set(list)]);
      for (const list of firsts.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
      expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
      expect(ctx.api.stats.confirmedOffset).toBe(during[during.length - 1].update_id + 1);
      expect(first[0].update_id).toBe(1);
    } finally {
      server.process.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
