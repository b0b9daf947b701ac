// Webhook replicas of one bot behind a load balancer, sharing the work
// through Redis: each replica stores the updates it receives in the cluster's
// streams (a re-send reaching another replica is dropped there) and handles
// its share of the chats, in order. Here three replicas and a round-robin
// proxy run in one process, fed by the fake Bot API server's Telegram-like
// delivery; in production each replica is its own process behind your load
// balancer, running the same code with a real token and an HTTPS URL.
// Run: npm run example -- webhook-cluster   (REDIS_URL, default redis://127.0.0.1:6379)
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Bot } from "grammy";
import { sequentialize, type WebhookHandle, webhook } from "grammy-runner";
import { redisCluster } from "grammy-runner/redis";
import { createFakeBotApi, type FakeBotApi } from "grammy-runner/testing";

const secretToken = randomBytes(16).toString("hex");

function replica(api: FakeBotApi, label: string, handledBy: Map<string, number>): WebhookHandle {
  const bot = new Bot(api.token, { client: { apiRoot: api.url } });
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.on("message", async (ctx) => {
    handledBy.set(label, (handledBy.get(label) ?? 0) + 1);
    await ctx.reply(`handled by ${label}`);
  });
  return webhook(bot, {
    secretToken,
    cluster: redisCluster({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      name: `example-webhook-${process.pid}`,
    }),
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/bot`;
}

/** What your load balancer does: each request to the next replica. */
function roundRobin(targets: string[]): Server {
  let next = 0;
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const secret = req.headers["x-telegram-bot-api-secret-token"];
      fetch(targets[next++ % targets.length], {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(typeof secret === "string" ? { "x-telegram-bot-api-secret-token": secret } : {}),
        },
        body: Buffer.concat(chunks),
      })
        .then(async (answer) => res.writeHead(answer.status).end(await answer.text()))
        .catch(() => res.writeHead(502).end());
    });
  });
}

async function main(): Promise<void> {
  const api = await createFakeBotApi();
  const handledBy = new Map<string, number>();
  const handles = ["A", "B", "C"].map((label) => replica(api, label, handledBy));
  const servers = handles.map((h) => createServer(h.callback("http")));
  const balancer = roundRobin(await Promise.all(servers.map(listen)));
  await handles[0].setWebhook(await listen(balancer), { max_connections: 40 });

  // Simulated users: 20 chats, 10 messages each.
  api.pushMessages({ count: 200, chats: 20 });
  await api.waitFor((a) => a.calls("sendMessage").length === 200, 30_000);

  // A rolling deploy stops replicas one by one: each drains and hands its partitions over.
  await Promise.all(handles.map((h) => h.stop()));
  for (const server of [balancer, ...servers]) server.close();
  const stored = handles.map((h) => h.stats().webhook.accepted);
  console.log(`stored by replica A/B/C: ${stored.join("/")}`);
  const handled = [...handledBy.values()].reduce((sum, n) => sum + n, 0);
  console.log(`${handled} handled, by replica: ${JSON.stringify(Object.fromEntries(handledBy))}`);
  console.log(
    `Telegram sent ${api.stats.webhookDeliveries} requests (${api.stats.webhookResends} re-sends); getUpdates calls: ${api.calls("getUpdates").length}`,
  );
  await api.close();
}

void main();
