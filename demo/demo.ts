// `npm start`: a bot under grammy-runner, with no Telegram account needed.
// Starts the fake Bot API server from grammy-runner/testing, simulated users
// (demo/users.ts) and a bot using run(), sequentialize() and session(); prints
// a live status line every second. Ctrl-C stops gracefully and prints the drain.
// With --webhook, the fake server POSTs the updates to webhook() as Telegram
// would; --cluster N runs demo/cluster.ts instead. With BOT_TOKEN set, the
// same bot polls Telegram.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { Bot, type Context, type SessionFlavor, session } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { createFetch } from "../src/client/index.js";
import {
  type RunHandle,
  type RunnerStats,
  run,
  sequentialize,
  type WebhookHandle,
  webhook,
} from "../src/index.js";
import { createFakeBotApi, type FakeBotApi } from "../src/testing/index.js";
import { type DemoOptions, parseDemoArgs, USAGE, UsageError } from "./args.js";
import { serveMetrics } from "./metrics.js";
import { StatusLine } from "./status-line.js";
import { FLOOD_CHAT, startUsers } from "./users.js";

type DemoContext = Context & SessionFlavor<{ seen: number }>;

/** The options, or the usage and an exit: 0 for --help, 2 with a one-line error for a mistake. */
function readOptions(): DemoOptions {
  try {
    const options = parseDemoArgs(process.argv.slice(2));
    if (options !== "help") return options;
    console.log(USAGE);
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${USAGE}\n\nerror: ${error.message}`);
    process.exit(2);
  }
}

/** The demo bot: per-chat order and sessions, handlers of varying cost, a few failing. */
function createBot(
  token: string,
  apiRoot: string | undefined,
): { bot: Bot<DemoContext>; errors: () => number } {
  const bot = new Bot<DemoContext>(token, {
    client: { fetch: createFetch(), ...(apiRoot ? { apiRoot } : {}) },
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
  return { bot, errors: () => errors };
}

/** The bot, started either way, as the rest of the demo sees it. */
interface Running {
  handle: RunHandle | WebhookHandle;
  /** How updates reach the bot, for the status line. */
  source: () => string;
  /** Rejects if the bot fails for good; polling's task(). */
  failed: Promise<void>;
  close: () => Promise<void>;
}

/** The bot under run(): `ready` once the Bot API answered getMe. */
function startPolling(
  bot: Bot<DemoContext>,
  concurrency: number,
  ready: (me: UserFromGetMe) => void,
): Running {
  const handle = run(bot, { sink: { concurrency }, runner: { onStart: ready } });
  return {
    handle,
    source: () => `getUpdates ${handle.stats().getUpdatesCalls}`,
    // run() has started it, so there is a task.
    failed: handle.task() as Promise<void>,
    close: async () => {},
  };
}

/** The bot under webhook(), on a loopback HTTP server that the fake server POSTs to. */
async function startWebhook(
  bot: Bot<DemoContext>,
  api: FakeBotApi,
  concurrency: number,
): Promise<Running> {
  const handle = webhook(bot, {
    secretToken: randomBytes(16).toString("hex"),
    sink: { concurrency },
  });
  const server = createServer(handle.callback("http"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  await bot.init();
  const { port } = server.address() as AddressInfo;
  // As many requests at once as Telegram allows (its default is 40).
  await handle.setWebhook(`http://127.0.0.1:${port}/bot`, { max_connections: 100 });
  return {
    handle,
    source: () => `POSTs ${api.stats.webhookDeliveries} re-sent ${api.stats.webhookResends}`,
    failed: new Promise<void>(() => {}),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Redraws the status every second: rate, slots in use, parked updates, latency, errors. */
function showStatus(
  handle: { stats(): RunnerStats },
  source: () => string,
  line: StatusLine,
  concurrency: number,
  errors: () => number,
): NodeJS.Timeout {
  let last = 0;
  let lastAt = performance.now();
  return setInterval(() => {
    const s = handle.stats();
    const now = performance.now();
    const perSecond = ((s.handled - last) * 1000) / (now - lastAt);
    last = s.handled;
    lastAt = now;
    line.show([
      `${perSecond.toFixed(0).padStart(5)} upd/s`,
      `running ${s.inFlight - s.parked}/${concurrency}`,
      `parked ${s.parked}`,
      `p50 ${s.latency.p50.toFixed(0)} p99 ${s.latency.p99.toFixed(0)} ms`,
      `handled ${s.handled}`,
      `errors ${errors()}`,
      source(),
    ]);
  }, 1000);
}

/** What the demo runs and how to read its status line, printed once at the start. */
function introduction(username: string, options: DemoOptions, simulated: boolean): string {
  const { chats, concurrency, rate } = options;
  const lines = [
    `@${username} is running (concurrency ${concurrency})` +
      (simulated ? `: ${chats} simulated chats send ${rate} updates/s.` : "."),
    `running = handlers holding a slot (at most ${concurrency}); parked = updates waiting`,
    "for an earlier one of their chat (sequentialize), holding no slot.",
  ];
  // Measured: the first seconds cost more CPU per update (JIT warm-up, new
  // connections) in a process near its capacity, so a backlog builds and
  // clears slowly; with few chats, few handlers run at once and it does not.
  if (simulated && chats > 50)
    lines.push(
      "The first seconds run slower: the bot, the fake server and the users share",
      "one process, which warms up (JIT, connections) with little spare capacity.",
    );
  return lines.join("\n");
}

/**
 * `--cluster N`: demo/cluster.ts in a process of its own (it forks its
 * replicas from its own file). Ctrl-C reaches both; that one stops gracefully.
 */
async function clusterDemo(replicas: number): Promise<void> {
  // npm runs scripts in the package's folder and says where its package.json is.
  const root = dirname(process.env.npm_package_json ?? join(process.cwd(), "package.json"));
  const child = spawn(
    process.execPath,
    [join(root, "scripts/run-ts.mjs"), join(root, "demo/cluster.ts"), String(replicas)],
    { stdio: "inherit" },
  );
  const ignore = () => {};
  process.on("SIGINT", ignore);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  process.off("SIGINT", ignore);
  process.exitCode = code ?? 1;
}

async function main(): Promise<void> {
  const options = readOptions();
  if (options.cluster > 0) return clusterDemo(options.cluster);
  const token = process.env.BOT_TOKEN;
  if (token && options.webhook) {
    console.error("--webhook needs the fake server: Telegram only POSTs to a public HTTPS URL.");
    process.exit(2);
  }
  const api = token ? undefined : await createFakeBotApi();
  const { bot, errors } = createBot(token ?? (api?.token as string), api?.url);
  const line = new StatusLine(process.stdout);
  let status: NodeJS.Timeout | undefined;
  const ready = (me: UserFromGetMe) => {
    line.print(introduction(me.username, options, api !== undefined));
    // Only now: until the Bot API answers, the runner prints its retries.
    status = showStatus(running.handle, running.source, line, options.concurrency, errors);
  };
  // Polling calls ready() later, from onStart; a webhook has called getMe already.
  const running =
    api && options.webhook
      ? await startWebhook(bot, api, options.concurrency)
      : startPolling(bot, options.concurrency, ready);
  if (options.webhook) ready(bot.botInfo);
  const { handle } = running;
  const metrics = await serveMetrics(handle);
  const users = api ? startUsers(api, options.updates, options.chats, options.rate) : undefined;

  let drained: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    drained = resolve;
  });
  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    users?.stop();
    const started = performance.now();
    line.keep();
    line.print(`${why}: stopping, ${handle.size()} updates in flight…`);
    await handle.stop();
    clearInterval(status);
    const s = handle.stats();
    line.print(
      `Drained in ${(performance.now() - started).toFixed(0)} ms: ${s.handled} handled, ` +
        `${s.failed} failed, ${s.timedOut} timed out, ${s.inFlight} left.\n` +
        `${running.source()} for ${s.fetched} updates.`,
    );
    drained?.();
  };
  process.once("SIGINT", () => void stop("Ctrl-C"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  if (api)
    setTimeout(() => void stop(`${options.duration} s elapsed`), options.duration * 1000).unref();
  try {
    await Promise.race([stopped, running.failed]);
  } finally {
    clearInterval(status);
    line.clear();
    await running.close();
    await metrics.close();
    await api?.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
