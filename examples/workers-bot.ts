// Multi-core: the central bot fetches updates and hands them to worker
// threads running workers-worker.ts. Each chat always goes to the same
// worker, so its order holds.
// Run: npm run example -- workers-bot (with BOT_TOKEN=... to use your bot on Telegram)
import { dirname, join } from "node:path";
import { Bot } from "grammy";
import { distribute, run } from "grammy-runner";
import { connect, runUntilStopped, simulateUsers } from "./support.js";

// The worker file next to this one once compiled (process.argv[1] rather than
// import.meta.url or __dirname, so the same code works as ESM and CommonJS).
const WORKER_FILE = join(dirname(process.argv[1]), "workers-worker.js");

async function main(): Promise<void> {
  const connection = await connect();
  const bot = new Bot(connection.token, connection.config);
  const workers = distribute(WORKER_FILE, { count: 2 });
  bot.use(workers);
  bot.catch((err) => console.error("a worker failed:", err.error));

  const handle = run(bot);
  simulateUsers(connection, (i) => `hello ${i}`, { chats: 4, everyMs: 250 });
  const report = setInterval(() => console.log(workers.stats().workers), 2_000);
  report.unref();
  await runUntilStopped(connection, handle);
}

void main();
