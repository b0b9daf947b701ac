import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Keys } from "../../src/cluster/redis-store.js";
import { isReplayed, run, sequentialize } from "../../src/index.js";
import { redisCluster } from "../../src/redis/index.js";
import { botFor, failOnUnhandled, useFakeApi } from "../helpers/bot.js";
import { Handled } from "../helpers/handled.js";
import { dropKeys, keysOf, startRedisServer, uniqueName, useRedis } from "../helpers/redis.js";
import { SilentableProxy } from "../helpers/redis-proxy.js";

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

/** A replica: a bot that records what it handled into `seen`. */
function replica(
  name: string,
  seen: Handled,
  options: { leaseMilliseconds?: number; url?: string } = {},
) {
  const bot = botFor(ctx.api);
  bot.use(sequentialize((c) => c.chat?.id.toString()));
  bot.on("message", async (c) => {
    await new Promise((r) => setTimeout(r, 1 + (c.update.update_id % 4)));
    seen.add(c.chat.id, c.update.update_id, isReplayed(c.update));
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

/** Whether exactly one replica leads and each of the 8 partitions has exactly one consumer. */
function settled(handles: ReturnType<typeof replica>[], least: number): boolean {
  const stats = handles.map((h) => h.stats().cluster);
  const owned = stats.flatMap((s) => s?.partitions ?? []).sort((a, b) => a - b);
  return (
    stats.filter((s) => s?.role === "leader").length === 1 &&
    owned.join() === "0,1,2,3,4,5,6,7" &&
    stats.every((s) => (s?.partitions.length ?? 0) >= least)
  );
}

describe("redisCluster()", () => {
  it("one replica handles everything in per-chat order, stores and trims, and confirms on stop", async () => {
    const name = newName("one");
    const seen = new Handled();
    const updates = ctx.api.pushMessages({ count: 300, chats: 12 });
    const handle = replica(name, seen);
    await ctx.api.waitFor(() => seen.distinct() === 300, 15_000);
    // A stall longer than the lease makes the replica take its own leases again.
    await ctx.api.waitFor(() => settled([handle], 8), 15_000);
    expect(handle.stats().cluster?.takeovers).toBeGreaterThanOrEqual(1);
    expect(handle.stats().cluster?.written).toBe(300);
    await handle.stop();
    await expect(handle.task()).resolves.toBeUndefined();
    seen.expectComplete(300);
    expect(ctx.api.stats.confirmedOffset).toBe(updates[updates.length - 1].update_id + 1);
    expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
    // Acknowledged entries are deleted; the leases are released.
    const left = await keysOf(redis.admin, name);
    for (const key of left)
      if (key.includes(":s:")) expect(await redis.admin.sendCommand(["XLEN", key])).toBe(0);
    expect(left.some((k) => k.endsWith(":leader") || k.includes(":part:"))).toBe(false);
  }, 40_000);

  it("three replicas share the partitions, one polls, and each update is handled once", async () => {
    const name = newName("three");
    const seen = new Handled();
    const handles = [replica(name, seen), replica(name, seen), replica(name, seen)];
    const updates = ctx.api.pushMessages({ count: 600, chats: 40 });
    await ctx.api.waitFor(() => seen.distinct() === 600, 30_000);
    // Stalls longer than the 1.5 s lease move the leases around; wait for them to settle.
    await ctx.api.waitFor(() => settled(handles, 2), 30_000);
    await Promise.all(handles.map((h) => h.stop()));
    // Handled more than once only as a replay after a lease ran out (none on a quiet machine).
    seen.expectComplete(600);
    expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
    expect(ctx.api.stats.confirmedOffset).toBe(updates[updates.length - 1].update_id + 1);
  }, 70_000);

  it("a graceful stop of the leader hands polling over at once", async () => {
    const name = newName("handover");
    const seen = new Handled();
    const first = replica(name, seen, { leaseMilliseconds: 30_000 });
    await ctx.api.waitFor(() => first.stats().cluster?.role === "leader", 10_000);
    const second = replica(name, seen, { leaseMilliseconds: 30_000 });
    await ctx.api.waitFor(() => (second.stats().cluster?.partitions.length ?? 0) > 0, 10_000);
    const lease = String(await redis.admin.sendCommand(["GET", `grammy-runner:{${name}}:leader`]));
    const firstId = lease.slice(lease.indexOf(":") + 1);
    await first.stop();
    // Released, not left to run out: no lease names the first replica any more.
    const leaseKeys = (await keysOf(redis.admin, name)).filter(
      (k) => k.endsWith(":leader") || k.includes(":part:"),
    );
    for (const key of leaseKeys)
      expect(String(await redis.admin.sendCommand(["GET", key]))).not.toContain(firstId);
    // Well within the 30 s lease, however slow the machine.
    await ctx.api.waitFor(() => second.stats().cluster?.role === "leader", 20_000);
    ctx.api.pushMessages({ count: 50, chats: 5 });
    await ctx.api.waitFor(() => seen.distinct() === 50, 15_000);
    await ctx.api.waitFor(() => second.stats().cluster?.partitions.length === 8, 15_000);
    await second.stop();
    seen.expectComplete(50);
    expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
  }, 70_000);

  it("pauses while Redis restarts and loses nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "grammy-runner-redis-"));
    let server = await startRedisServer(dir);
    const name = uniqueName("restart");
    const seen = new Handled();
    const handles = [
      replica(name, seen, { url: server.url }),
      replica(name, seen, { url: server.url }),
    ];
    try {
      const first = ctx.api.pushMessages({ count: 200, chats: 20 });
      await ctx.api.waitFor(() => seen.distinct() >= 50, 15_000);
      server.process.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 1_000));
      const during = ctx.api.pushMessages({ count: 100, chats: 20 });
      server = await startRedisServer(dir, server.port);
      await ctx.api.waitFor(() => seen.distinct() === 300, 30_000);
      await Promise.all(handles.map((h) => h.stop()));
      for (const h of handles) await expect(h.task()).resolves.toBeUndefined();
      seen.expectComplete(300);
      expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
      expect(ctx.api.stats.confirmedOffset).toBe(during[during.length - 1].update_id + 1);
      expect(first[0].update_id).toBe(1);
    } finally {
      server.process.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("resumes after Redis stops answering on connections it keeps open", async () => {
    const name = newName("silent");
    const proxy = await SilentableProxy.start(Number(new URL(redis.url).port || 6379));
    const seen = new Handled();
    const handles = [
      replica(name, seen, { url: proxy.url }),
      replica(name, seen, { url: proxy.url }),
    ];
    try {
      const first = ctx.api.pushMessages({ count: 100, chats: 10 });
      await ctx.api.waitFor(() => seen.distinct() >= 30, 15_000);
      const opened = proxy.accepted;
      proxy.silence();
      // Every connection now hangs without an error: only a missed deadline makes a replica open another.
      await ctx.api.waitFor(() => proxy.accepted > opened, 30_000);
      const during = ctx.api.pushMessages({ count: 100, chats: 10 });
      proxy.restore();
      await ctx.api.waitFor(() => seen.distinct() === 200, 60_000);
      await Promise.all(handles.map((h) => h.stop()));
      for (const h of handles) await expect(h.task()).resolves.toBeUndefined();
      seen.expectComplete(200);
      expect(ctx.api.stats.maxConcurrentPolls).toBe(1);
      expect(ctx.api.stats.confirmedOffset).toBe(during[during.length - 1].update_id + 1);
      expect(first[0].update_id).toBe(1);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

describe("replays", () => {
  it("handles a dead replica's unacknowledged entries first, marked and counted in stats().replayed", async () => {
    const name = newName("replay");
    const keys = new Keys(name, 8);
    // A replica that read three entries of partition 0 and died before acknowledging them.
    await redis.admin.sendCommand(["XGROUP", "CREATE", keys.streams[0], "g", "0", "MKSTREAM"]);
    for (const id of [101, 102, 103])
      await redis.admin.sendCommand([
        "XADD",
        keys.streams[0],
        "*",
        "u",
        JSON.stringify(message(id)),
      ]);
    await redis.admin.sendCommand([
      "XREADGROUP",
      "GROUP",
      "g",
      "ghost",
      "COUNT",
      "10",
      "STREAMS",
      keys.streams[0],
      ">",
    ]);
    const seen = new Handled();
    const handle = replica(name, seen);
    await ctx.api.waitFor(() => seen.distinct() === 3, 15_000);
    const stats = handle.stats();
    expect(stats.replayed).toBe(3);
    expect(stats.cluster?.replayed).toBe(3);
    await handle.stop();
    seen.expectComplete(3);
    expect(seen.replays()).toBe(3);
  }, 40_000);
});

/** A text message in chat 7, as the fake server would deliver it. */
function message(id: number) {
  return {
    update_id: id,
    message: {
      message_id: id,
      date: 0,
      chat: { id: 7, type: "private", first_name: "U" },
      from: { id: 7, is_bot: false, first_name: "U" },
      text: `msg ${id}`,
    },
  };
}
