// Graceful shutdown: on SIGINT/SIGTERM stop fetching, let running handlers
// finish, confirm their updates to Telegram, then exit. A fatal error (a
// revoked token, a second instance polling) exits non-zero.
import { Bot } from "grammy";
import { RunnerError, run } from "grammy-runner";

const bot = new Bot(process.env.BOT_TOKEN ?? "");
bot.on("message", async (ctx) => {
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // some work
  await ctx.reply("done");
});

const handle = run(bot);

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal}: finishing ${handle.size()} running updates…`);
  await handle.stop();
  const { handled, failed } = handle.stats();
  console.log(`stopped cleanly: ${handled} handled, ${failed} failed`);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));

try {
  await handle.task();
} catch (error) {
  console.error(error instanceof RunnerError ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
}
