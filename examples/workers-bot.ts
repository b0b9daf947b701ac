// Multi-core: the central bot fetches updates and hands them to worker
// threads running examples/workers-worker.ts (compiled to .js). Each chat
// always goes to the same worker, so its order holds.
import { Bot } from "grammy";
import { distribute, run } from "grammy-runner";

const bot = new Bot(process.env.BOT_TOKEN ?? "");
const workers = distribute(new URL("./workers-worker.js", import.meta.url), { count: 2 });
bot.use(workers);
bot.catch((err) => console.error("a worker failed:", err.error));

const handle = run(bot);
setInterval(() => console.log(workers.stats().workers), 10_000).unref();
process.once("SIGINT", () => void handle.stop());
