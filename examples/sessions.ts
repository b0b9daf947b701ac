// Sessions stay consistent under concurrency: sequentialize with the same key
// as the session, so two updates of one chat never read and write it at once.
import { Bot, type Context, type SessionFlavor, session } from "grammy";
import { run, sequentialize } from "grammy-runner";

type MyContext = Context & SessionFlavor<{ messages: number }>;
const chatKey = (ctx: Context) => ctx.chat?.id.toString();

const bot = new Bot<MyContext>(process.env.BOT_TOKEN ?? "");
bot.use(sequentialize(chatKey));
bot.use(session({ getSessionKey: chatKey, initial: () => ({ messages: 0 }) }));
bot.on("message", async (ctx) => {
  ctx.session.messages++;
  await ctx.reply(`That is message ${ctx.session.messages} in this chat.`);
});

const handle = run(bot);
process.once("SIGINT", () => void handle.stop());
