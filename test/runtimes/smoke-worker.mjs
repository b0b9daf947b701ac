// The worker of the smoke suite's distribute() check: it answers every
// message by throwing, so the central bot's error handler sees each one
// came back from a worker thread.
import { BotWorker } from "grammy-runner";

const worker = new BotWorker("123456:smoke-worker-token-not-used");
worker.on("message:text", (ctx) => {
  throw new Error(`worker saw ${ctx.message.text}`);
});
