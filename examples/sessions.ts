// Sessions stay consistent under concurrency: sequentialize with the same key
// as the session, so two updates of one chat never read and write it at once.
// Run: npm run example -- sessions (with BOT_TOKEN=... to use your bot on Telegram)
import { Bot, type Context, type SessionFlavor, session } from "grammy";
import { run, sequentialize } from "grammy-runner";
import { connect, runUntilStopped, simulateUsers } from "./support.js";

type MyContext = Context & SessionFlavor<{ messages: number }>;
const chatKey = (ctx: Context) => ctx.chat?.id.toString();

async function main(): Promise<void> {
  const connection = await connect();
  const bot = new Bot<MyContext>(connection.token, connection.config);
  bot.use(sequentialize(chatKey));
  bot.use(session({ getSessionKey: chatKey, initial: () => ({ messages: 0 }) }));
  bot.on("message", async (ctx) => {
    ctx.session.messages++;
    await ctx.reply(`That is message ${ctx.session.messages} in this chat.`);
  });

  const handle = run(bot);
  simulateUsers(connection, () => "hi", { chats: 2 });
  await runUntilStopped(connection, handle);
}

void main();
