// Graceful shutdown: on Ctrl-C or SIGTERM, stop() stops fetching, lets running
// handlers finish and confirms their updates to Telegram before it resolves.
// A fatal error (a revoked token, a second instance polling) rejects task().
// Run: npm run example -- graceful-shutdown (with BOT_TOKEN=... for Telegram)
import { Bot } from "grammy";
import { RunnerError, run } from "grammy-runner";
import { connect, simulateUsers } from "./support.js";

async function main(): Promise<void> {
  const connection = await connect();
  const bot = new Bot(connection.token, connection.config);
  bot.on("message", async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // some work
    await ctx.reply("done");
  });

  const handle = run(bot);
  simulateUsers(connection, (i) => `job ${i}`, { everyMs: 300 });

  const shutdown = async (why: string): Promise<void> => {
    console.log(`${why}: finishing ${handle.size()} running updates…`);
    await handle.stop();
    const { handled, failed } = handle.stats();
    console.log(`stopped cleanly: ${handled} handled, ${failed} failed`);
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  // `--duration S`: shut down by itself after S seconds (CI runs every example so).
  const duration = Number(process.argv[process.argv.indexOf("--duration") + 1]);
  if (duration > 0) setTimeout(() => void shutdown(`${duration} s`), duration * 1000).unref();

  try {
    await handle.task();
  } catch (error) {
    console.error(error instanceof RunnerError ? `${error.code}: ${error.message}` : error);
    process.exitCode = 1;
  }
  await connection.api?.close();
}

void main();
