// The smallest bot under the runner: echoes every text message.
// Run: npm run example -- echo (with BOT_TOKEN=... to use your bot on Telegram)
import { Bot } from "grammy";
import { run } from "grammy-runner";
import { connect, runUntilStopped, simulateUsers } from "./support.js";

async function main(): Promise<void> {
  const connection = await connect();
  const bot = new Bot(connection.token, connection.config);
  bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
  bot.catch((err) => console.error(`update ${err.ctx.update.update_id} failed:`, err.error));

  const handle = run(bot, {
    runner: { onStart: (me) => console.log(`@${me.username} is running`) },
  });
  simulateUsers(connection, (i) => `hello ${i}`);
  await runUntilStopped(connection, handle);
}

void main();
