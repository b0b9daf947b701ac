// The bot's logic, run in a worker thread started by examples/workers-bot.ts.
import { BotWorker } from "grammy-runner";

const worker = new BotWorker(process.env.BOT_TOKEN ?? "");
worker.on("message:text", (ctx) => ctx.reply(`A worker thread says: ${ctx.message.text}`));
