// A bot whose API calls go through createFetch() (undici) instead of grammY's default
// node-fetch client, run against the embedded fake Bot API server: no Telegram account needed.
// Run: npm run example -- fast-client
import { Bot } from "grammy";
import { run } from "grammy-runner";
import { createFetch } from "grammy-runner/fetch";
import { createFakeBotApi } from "grammy-runner/testing";

async function main(): Promise<void> {
  const api = await createFakeBotApi();
  const fetch = createFetch({ connections: 16 });
  const bot = new Bot(api.token, { client: { apiRoot: api.url, fetch } });
  bot.on("message:text", (ctx) => ctx.reply(`you said: ${ctx.message.text}`));
  bot.catch((err) => console.error(`update ${err.ctx.update.update_id} failed:`, err.error));

  api.pushMessages({ count: 2_000, chats: 500 });
  const started = performance.now();
  const cpu = process.cpuUsage();
  const handle = run(bot, { runner: { silent: true } });
  await api.waitFor((a) => a.stats.methodCalls.sendMessage === 2_000, 60_000);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await handle.stop();
  await fetch.close();
  console.log(
    `2,000 replies in ${seconds.toFixed(2)} s, ${((used.user + used.system) / 2_000).toFixed(0)} µs CPU per update (bot and fake server share this process), over ${api.stats.connections} connections`,
  );
  await api.close();
}

void main();
