// `npm start`: a bot under grammy-runner, with no Telegram account needed.
// Starts the fake Bot API server from grammy-runner/testing, simulated users
// (many chats, one of them flooding, some slow handlers, an occasional failing
// one) and a bot using run(), sequentialize() and session(); prints a live
// status line every second. Ctrl-C stops gracefully and prints the drain.
// With BOT_TOKEN set, the same bot runs against Telegram instead.
import { parseArgs } from "node:util";
import { Bot, type Context, type SessionFlavor, session } from "grammy";
import { createFetch } from "../src/client/index.js";
import { run, sequentialize } from "../src/index.js";
import { createFakeBotApi, type FakeBotApi } from "../src/testing/index.js";
import { serveMetrics } from "./metrics.js";

const { values: flags } = parseArgs({
  options: {
    updates: { type: "string", default: "20000" },
    chats: { type: "string", default: "200" },
    concurrency: { type: "string", default: "500" },
    duration: { type: "string", default: "20" },
    rate: { type: "string", default: "1000" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(`npm start -- [--updates N] [--chats N] [--concurrency N] [--duration S] [--rate N/s]
Simulates users against a fake Bot API server (or uses Telegram when BOT_TOKEN is set).`);
  process.exit(0);
}
const positive = (name: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number >= 1, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
};
const totalUpdates = positive("updates", flags.updates);
const chats = positive("chats", flags.chats);
const concurrency = positive("concurrency", flags.concurrency);
const durationS = positive("duration", flags.duration);
const rate = positive("rate", flags.rate);

type DemoContext = Context & SessionFlavor<{ seen: number }>;
const FLOOD_CHAT = 1;

async function main(): Promise<void> {
  const token = process.env.BOT_TOKEN;
  const api: FakeBotApi | undefined = token ? undefined : await createFakeBotApi();
  const bot = new Bot<DemoContext>(token ?? (api as FakeBotApi).token, {
    client: { fetch: createFetch(), ...(api ? { apiRoot: api.url } : {}) },
  });
  const chatKey = (ctx: Context) => ctx.chat?.id.toString();
  let errors = 0;
  bot.use(sequentialize(chatKey));
  bot.use(session({ getSessionKey: chatKey, initial: () => ({ seen: 0 }) }));
  bot.on("message:text", async (ctx) => {
    ctx.session.seen++;
    const text = ctx.message.text;
    if (text.includes("fail")) throw new Error(`simulated failure in chat ${ctx.chat.id}`);
    // The flooding chat is cheap per message but sequential; others vary.
    const work =
      ctx.chat.id === FLOOD_CHAT
        ? 1
        : text.includes("slow")
          ? 300
          : 2 + (ctx.message.message_id % 10);
    await new Promise((resolve) => setTimeout(resolve, work));
    await ctx.reply(`#${ctx.session.seen} in this chat`);
  });
  bot.catch(() => {
    errors++;
  });

  const handle = run(bot, {
    sink: { concurrency },
    runner: {
      onStart: (me) => console.log(`@${me.username} is running (concurrency ${concurrency})`),
    },
  });
  const metrics = await serveMetrics(handle);

  // Simulated users: a steady stream over many chats, a tenth of it from one flooding chat.
  let pushed = 0;
  const tick = 50;
  const simulator = api
    ? setInterval(() => {
        const batch = Math.min(Math.ceil((rate * tick) / 1000), totalUpdates - pushed);
        for (let i = 0; i < batch; i++, pushed++) {
          const flood = pushed % 10 === 0;
          const chat = flood ? FLOOD_CHAT : 2 + (pushed % (chats - 1 || 1));
          const kind = pushed % 97 === 0 ? "fail" : pushed % 53 === 0 ? "slow" : "hi";
          api.pushMessage(chat, `${kind} ${pushed}`);
        }
      }, tick)
    : undefined;

  let last = 0;
  let lastAt = performance.now();
  const status = setInterval(() => {
    const s = handle.stats();
    const now = performance.now();
    const perSecond = ((s.handled - last) * 1000) / (now - lastAt);
    last = s.handled;
    lastAt = now;
    const line =
      `${perSecond.toFixed(0).padStart(6)} upd/s | handled ${s.handled} | in flight ${s.inFlight}` +
      ` (parked ${s.parked}) | p50 ${s.latency.p50.toFixed(1)} ms p99 ${s.latency.p99.toFixed(1)} ms` +
      ` | errors ${errors} | getUpdates ${s.getUpdatesCalls}`;
    if (process.stdout.isTTY) process.stdout.write(`\r${line.padEnd(process.stdout.columns - 1)}`);
    else console.log(line);
  }, 1000);

  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (simulator) clearInterval(simulator);
    const inFlight = handle.size();
    const started = performance.now();
    process.stdout.write(`\n${why}: stopping, ${inFlight} updates in flight…\n`);
    await handle.stop();
    clearInterval(status);
    const s = handle.stats();
    console.log(
      `Drained in ${(performance.now() - started).toFixed(0)} ms: ${s.handled} handled, ` +
        `${s.failed} failed, ${s.timedOut} timed out, ${s.inFlight} left, ` +
        `${s.getUpdatesCalls} getUpdates calls.`,
    );
    await api?.close();
    await metrics.close();
  };
  process.once("SIGINT", () => void stop("Ctrl-C"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  if (api) setTimeout(() => void stop(`${durationS} s elapsed`), durationS * 1000).unref();
  await handle.task();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
