/**
 * throughput (and journal-*): a backlog waiting on the server, timed from the
 * first getUpdates call to the last handler done.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileJournal } from "../../src/index.js";
import { redisCluster } from "../../src/redis/index.js";
import { type Impl, type JobOf, type Metrics, now, type ServerAddress } from "../protocol.js";
import { attachExporter } from "./exporters.js";
import {
  fakeServerBot,
  probeGetUpdates,
  sequentializeOf,
  start,
  stopAndEnd,
} from "./implementations.js";
import { benchClusterName, benchRedis } from "./redis.js";
import { server } from "./rpc.js";
import { syncFloor } from "./sync-floor.js";
import { cpuMicros, peakRssMb } from "./usage.js";
import { deferred } from "./waits.js";

export async function throughput(
  impl: Impl,
  job: JobOf<"throughput">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  const floor = job.syncFloorBytes === undefined ? undefined : await syncFloor(job.syncFloorBytes);
  const total = job.updates;
  const bot = await fakeServerBot(
    srv,
    { count: total, chats: job.chats, firstChatId: 1 },
    job.fastClient === true,
  );
  const connectionsBefore = (await server({ cmd: "stats" })).connections;
  const probe = probeGetUpdates(bot);
  let errors = 0;
  bot.catch(() => {
    errors++;
  });
  if (job.seq && impl !== "start") bot.use(sequentializeOf(impl));

  let done = 0;
  let end = { at: 0, cpu: 0, calls: 0, rss: 0 };
  const finished = deferred();
  const mark = (): void => {
    if (++done !== total) return;
    end = { at: now(), cpu: cpuMicros(), calls: probe.calls, rss: peakRssMb() };
    finished.resolve();
  };
  const ms = job.delayMs;
  // How many replies wait at once: each in flight needs a connection of grammY's default agent.
  let replying = 0;
  let peakReplying = 0;
  if (job.reply)
    bot.use(async (ctx) => {
      if (++replying > peakReplying) peakReplying = replying;
      await ctx.reply("ok");
      replying--;
      mark();
    });
  else if (ms > 0)
    bot.use(async () => {
      await delay(ms);
      mark();
    });
  else bot.use(mark);

  // A fresh journal directory per run, on the same disk as everything else (fsync included).
  const dir = job.journal ? await mkdtemp(join(tmpdir(), "grammy-runner-bench-journal-")) : "";
  const redis = job.cluster ? await benchRedis() : undefined;
  let redisCpu = Number.NaN;
  try {
    const cluster = redis && redisCluster({ url: redis.url, name: benchClusterName("throughput") });
    const redisCpu0 = (await redis?.cpu()) ?? 0;
    const driver = start(impl, bot, undefined, job.journal ? fileJournal(dir) : undefined, cluster);
    const exporter = job.exporter === undefined ? undefined : attachExporter(job.exporter, driver);
    await finished.promise;
    if (redis) redisCpu = ((await redis.cpu()) - redisCpu0) / total;
    await stopAndEnd(driver);
    await exporter?.();
  } finally {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
    await redis?.close();
  }
  const connections = (await server({ cmd: "stats" })).connections - connectionsBefore;
  const seconds = (end.at - probe.firstAt) / 1000;
  return {
    updates: total,
    rate: total / seconds,
    cpu: (end.cpu - probe.firstCpu) / total,
    rss: end.rss,
    calls: (end.calls / total) * 1000,
    errors,
    connections,
    ...(job.reply ? { peakReplying } : {}),
    wallPerUpdate: (seconds * 1e6) / total,
    ...(floor === undefined ? {} : { syncFloor: floor }),
    // Plain runs use no Redis at all.
    redisCpu: job.cluster ? redisCpu : 0,
  };
}
