// A webhook bot with the runner's guarantees, served by node:http and fed by
// the fake Bot API server, which delivers updates like Telegram does (POSTs
// with the secret header, per-chat order, re-sends on failure).
// Run: npm run example -- webhook (the fake server only: Telegram needs a public HTTPS URL)
// Against Telegram: drop the fake server, serve over HTTPS (or behind a proxy)
// and call handle.setWebhook("https://your.domain/bot").
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bot } from "grammy";
import { fileJournal, sequentialize, webhook } from "grammy-runner";
import { createFakeBotApi } from "grammy-runner/testing";

async function main(): Promise<void> {
  const api = await createFakeBotApi();
  const bot = new Bot(api.token, { client: { apiRoot: api.url } });
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.on("message:text", async (ctx) => {
    // A slow handler: with the journal, Telegram has its answer long before this ends.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await ctx.reply(`you said: ${ctx.message.text}`);
  });
  bot.catch((err) => console.error(`update ${err.ctx.update.update_id} failed:`, err.error));

  const secretToken = randomBytes(16).toString("hex");
  // A real bot keeps its journal in a directory of its own that survives restarts.
  const journalDir = mkdtempSync(join(tmpdir(), "webhook-example-"));
  const handle = webhook(bot, {
    secretToken,
    sink: { concurrency: 100 },
    journal: fileJournal(journalDir),
  });
  const server = createServer(handle.callback("http"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await handle.setWebhook(`http://127.0.0.1:${port}/bot`, { max_connections: 40 });
  console.log(`webhook listening on http://127.0.0.1:${port}/bot`);

  // Simulated users: 5 chats, 10 messages each.
  api.pushMessages({ count: 50, chats: 5 });
  await api.waitFor((a) => a.calls("sendMessage").length === 50);

  await handle.stop(); // refuses new updates, drains handlers, closes the journal
  server.close();
  const s = handle.stats();
  console.log(
    `handled ${s.handled}, p99 ${s.latency.p99.toFixed(0)} ms; Telegram sent ${api.stats.webhookDeliveries} requests, ${api.stats.webhookResends} re-sends`,
  );
  await api.close();
  rmSync(journalDir, { recursive: true });
}

void main();
