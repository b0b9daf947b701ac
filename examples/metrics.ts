// Prometheus metrics for a bot: registerRunnerMetrics() on prom-client's
// global registry, served at http://127.0.0.1:9464/metrics for Prometheus to
// scrape. Without BOT_TOKEN it runs against the fake Bot API server with 200
// simulated messages, prints one scrape and stops:
//   npm run build && node scripts/run-ts.mjs examples/metrics.ts
import { createServer } from "node:http";
import { Bot } from "grammy";
import { run, sequentialize } from "grammy-runner";
import { registerRunnerMetrics } from "grammy-runner/prometheus";
import { createFakeBotApi } from "grammy-runner/testing";
import { register } from "prom-client";

const api = process.env.BOT_TOKEN ? undefined : await createFakeBotApi();
const bot = new Bot(process.env.BOT_TOKEN ?? api?.token ?? "", {
  client: api ? { apiRoot: api.url } : {},
});
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
}).listen(9464, "127.0.0.1");
console.log("metrics at http://127.0.0.1:9464/metrics");

if (api) {
  api.pushMessages({ count: 200, chats: 20 });
  await api.waitFor((a) => a.calls("sendMessage").length === 200);
  const scrape = await fetch("http://127.0.0.1:9464/metrics").then((r) => r.text());
  console.log(
    scrape
      .split("\n")
      .filter((line) => /^grammy_runner_\w+(_total|_count)? /.test(line))
      .join("\n"),
  );
  await handle.stop();
  server.close();
  await api.close();
} else {
  process.once("SIGINT", () => void handle.stop().then(() => server.close()));
}
