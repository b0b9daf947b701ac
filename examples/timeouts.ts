// Long-running jobs with a per-update timeout: the runner frees the slot after
// 2 s and aborts updateSignal(ctx), which the job checks to stop its work.
// Run: npm run example -- timeouts (with BOT_TOKEN=... to use your bot on Telegram)
import { Bot } from "grammy";
import { run, updateSignal } from "grammy-runner";
import { connect, runUntilStopped, simulateUsers } from "./support.js";

async function main(): Promise<void> {
  const connection = await connect();
  const bot = new Bot(connection.token, connection.config);
  bot.command("slow", async (ctx) => {
    const signal = updateSignal(ctx);
    for (let step = 1; step <= 5; step++) {
      if (signal?.aborted) return; // the runner gave up on us: stop working
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    await ctx.reply("Done after 5 s (you only see this without the timeout).");
  });
  bot.command("quick", (ctx) => ctx.reply("Done at once."));
  bot.catch((err) => console.error("failed:", err.error));

  const handle = run(bot, {
    sink: {
      timeout: {
        milliseconds: 2_000,
        handler: (update) => console.warn(`update ${update.update_id} took over 2 s`),
      },
    },
  });
  simulateUsers(connection, (i) => (i % 2 === 0 ? "/slow" : "/quick"), { everyMs: 700 });
  await runUntilStopped(connection, handle);
}

void main();
