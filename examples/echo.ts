// The smallest bot under the runner: echoes every text message.
// Run: BOT_TOKEN=123:abc npx tsx examples/echo.ts (or compile with tsc first)
import { Bot } from "grammy";
import { run } from "grammy-runner";

const bot = new Bot(process.env.BOT_TOKEN ?? "");
bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
bot.catch((err) => console.error(`update ${err.ctx.update.update_id} failed:`, err.error));

const handle = run(bot, { runner: { onStart: (me) => console.log(`@${me.username} is running`) } });
process.once("SIGINT", () => void handle.stop());
