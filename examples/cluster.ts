// Replicas of one bot sharing the work through Redis. Here three replicas run
// in one process against the fake Bot API server, so it runs anywhere Redis
// does; in production each replica is its own process or machine running the
// same code with a real token.
// Run: npm run example -- cluster   (REDIS_URL, default redis://127.0.0.1:6379)
import { Bot } from "grammy";
import { isReplayed, run, sequentialize } from "grammy-runner";
import { redisCluster } from "grammy-runner/redis";
import { createFakeBotApi, type FakeBotApi } from "grammy-runner/testing";

function replica(api: FakeBotApi, handledBy: Map<string, number>, label: string) {
  const bot = new Bot(api.token, { client: { apiRoot: api.url } });
  // Per-chat order holds across replicas: a chat's updates go to one replica at a time.
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.on("message", async (ctx) => {
    handledBy.set(label, (handledBy.get(label) ?? 0) + 1);
    // Handled again after another replica died with it in flight: check before side effects.
    const note = isReplayed(ctx.update) ? " (again, after a replica died)" : "";
    await ctx.reply(`handled by ${label}${note}`);
  });
  return run(bot, {
    cluster: redisCluster({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      name: `example-${process.pid}`,
    }),
  });
}

async function main(): Promise<void> {
  const api = await createFakeBotApi();
  const handledBy = new Map<string, number>();
  const replicas = ["a", "b", "c"].map((label) => ({
    label,
    handle: replica(api, handledBy, label),
  }));
  // Let the replicas elect a leader and spread the partitions, then send traffic.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  api.pushMessages({ count: 300, chats: 30 });
  await api.waitFor((a) => a.calls("sendMessage").length === 300, 30_000);
  for (const { label, handle } of replicas) {
    const cluster = handle.stats().cluster;
    console.log(
      `${label}: ${cluster?.role}, partitions ${cluster?.partitions.join(",")}, handled ${handledBy.get(label) ?? 0}`,
    );
  }
  await Promise.all(replicas.map(({ handle }) => handle.stop()));
  console.log(
    `Telegram was told offset ${api.stats.confirmedOffset}; at most one poll at a time: ${api.stats.maxConcurrentPolls === 1}`,
  );
  await api.close();
}

void main();
