// The bot's logic, run in a worker thread started by workers-bot.ts.
import { BotWorker } from "grammy-runner";
import { workerConnection } from "./support.js";

const { token, config } = workerConnection();
const worker = new BotWorker(token, config);
worker.on("message:text", (ctx) => ctx.reply(`A worker thread says: ${ctx.message.text}`));
