// Long-running jobs with a per-update timeout: the runner frees the slot after
// 10 s and aborts updateSignal(ctx), which the job passes on to stop its work.
import { Bot } from "grammy";
import { run, updateSignal } from "grammy-runner";

const bot = new Bot(process.env.BOT_TOKEN ?? "");

bot.command("slow", async (ctx) => {
  const signal = updateSignal(ctx);
  const steps = 30;
  for (let step = 1; step <= steps; step++) {
    if (signal?.aborted) return; // the runner gave up on us: stop working
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  await ctx.reply("Done after 30 s (you will only see this without the timeout).");
});
bot.catch((err) => console.error("failed:", err.error));

const handle = run(bot, {
  sink: {
    timeout: {
      milliseconds: 10_000,
      handler: (update) => console.warn(`update ${update.update_id} took over 10 s`),
    },
  },
});
process.once("SIGINT", () => void handle.stop());
