// Prometheus metrics for a bot: registerRunnerMetrics() on prom-client's
// global registry, served at http://127.0.0.1:9464/metrics (METRICS_PORT) for
// Prometheus to scrape; on stop, prints the runner's counters once.
// Run: npm run example -- metrics (with BOT_TOKEN=... to use your bot on Telegram)
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Bot } from "grammy";
import { run, sequentialize } from "grammy-runner";
import { registerRunnerMetrics } from "grammy-runner/prometheus";
import { register } from "prom-client";
import { connect, runUntilStopped, simulateUsers } from "./support.js";

async function main(): Promise<void> {
  const connection = await connect();
  const bot = new Bot(connection.token, connection.config);
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.on("message:text", async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    await ctx.reply(`Got: ${ctx.message.text}`);
  });

  const handle = run(bot);
  registerRunnerMetrics(handle); // grammy_runner_* on prom-client's global registry

  const server = createServer(async (req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    res.setHeader("Content-Type", register.contentType);
    res.end(await register.metrics());
  });
  const port = Number(process.env.METRICS_PORT ?? 9464);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  console.log(`metrics at http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);

  simulateUsers(connection, (i) => `hello ${i}`, { chats: 5, everyMs: 200 });
  await runUntilStopped(connection, handle);
  // What a scrape shows now: the runner's counters.
  const scrape = await register.metrics();
  const counters = scrape.split("\n").filter((l) => /^grammy_runner_\w+(_total|_count)? /.test(l));
  console.log(counters.join("\n"));
  server.close();
}

void main();
