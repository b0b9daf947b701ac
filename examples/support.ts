// What every example shares, so each one shows only its own point:
// - connect(): with BOT_TOKEN set, the bot talks to Telegram; without it, to a
//   fake Bot API server started here (grammy-runner/testing), so any example
//   runs with no Telegram account: `npm run example -- echo`.
// - simulateUsers(): on the fake server, users send messages and the
//   conversation is printed; against Telegram, you are the user.
// - runUntilStopped(): stops gracefully on Ctrl-C, SIGTERM or after
//   `--duration S`, then prints what was handled.
import type { BotConfig, Context } from "grammy";
import type { RunHandle } from "grammy-runner";
import { createFakeBotApi, type FakeBotApi } from "grammy-runner/testing";

/** Where the bot connects: `new Bot(connection.token, connection.config)`. */
export interface Connection {
  token: string;
  config: Pick<BotConfig<Context>, "client">;
  /** The fake Bot API server, or `undefined` against Telegram. */
  api: FakeBotApi | undefined;
}

// How a worker thread (see workers-worker.ts) finds the fake server: worker
// threads start with a copy of this process's environment.
const FAKE_API_ROOT = "EXAMPLE_FAKE_API_ROOT";
const FAKE_TOKEN = "EXAMPLE_FAKE_TOKEN";

/** Telegram if BOT_TOKEN is set, else a fake Bot API server on 127.0.0.1. */
export async function connect(): Promise<Connection> {
  const token = process.env.BOT_TOKEN;
  if (token) return { token, config: {}, api: undefined };
  const api = await createFakeBotApi();
  process.env[FAKE_API_ROOT] = api.url;
  process.env[FAKE_TOKEN] = api.token;
  console.log("No BOT_TOKEN: running against a fake Bot API server with simulated users.");
  return { token: api.token, config: { client: { apiRoot: api.url } }, api };
}

/** connect()'s answer inside a worker thread, without starting anything. */
export function workerConnection(): Omit<Connection, "api"> {
  const apiRoot = process.env[FAKE_API_ROOT];
  const token = apiRoot ? process.env[FAKE_TOKEN] : process.env.BOT_TOKEN;
  return { token: token ?? "", config: apiRoot ? { client: { apiRoot } } : {} };
}

/**
 * On the fake server: every `everyMs`, one of `chats` users sends `text(i)`
 * (i counts from 0) in their private chat; the messages and the bot's replies
 * are printed. Against Telegram, does nothing.
 */
export function simulateUsers(
  { api }: Connection,
  text: (i: number) => string,
  { chats = 3, everyMs = 500 } = {},
): void {
  if (api === undefined) return;
  let sent = 0;
  let printed = 0;
  const timer = setInterval(() => {
    for (const call of api.calls("sendMessage").slice(printed)) {
      console.log(`  bot -> chat ${call.params.chat_id}: ${call.params.text}`);
      printed++;
    }
    const chat = 1 + (sent % chats);
    const message = text(sent++);
    console.log(`chat ${chat}: ${message}`);
    api.pushMessage(chat, message);
  }, everyMs);
  timer.unref();
  stopUsers.set(api, () => clearInterval(timer));
}

const stopUsers = new WeakMap<FakeBotApi, () => void>();

/**
 * Stops `handle` gracefully on Ctrl-C, SIGTERM or after `--duration S`
 * seconds (from the command line), waits for the runner to end, prints what
 * it handled and closes the fake server. A fatal runner error exits with 1.
 */
export async function runUntilStopped({ api }: Connection, handle: RunHandle): Promise<void> {
  const stop = (why: string) => {
    if (!handle.isRunning()) return;
    console.log(`${why}: stopping, ${handle.size()} updates in flight…`);
    if (api) stopUsers.get(api)?.();
    void handle.stop();
  };
  process.once("SIGINT", () => stop("Ctrl-C"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  const duration = durationSeconds();
  if (duration !== undefined) setTimeout(() => stop(`${duration} s`), duration * 1000).unref();
  try {
    await handle.task();
    const { handled, failed, timedOut } = handle.stats();
    const replies = api ? `, ${api.calls("sendMessage").length} replies` : "";
    console.log(
      `stopped: ${handled} updates handled (${failed} failed, ${timedOut} timed out)${replies}`,
    );
  } catch (error) {
    console.error("the runner failed:", error);
    process.exitCode = 1;
  } finally {
    await api?.close();
  }
}

/** `--duration S` from the command line, if given. */
function durationSeconds(): number | undefined {
  const at = process.argv.indexOf("--duration");
  if (at === -1) return undefined;
  const seconds = Number(process.argv[at + 1]);
  if (!(seconds > 0))
    throw new RangeError(`--duration wants seconds > 0, got ${process.argv[at + 1]}`);
  return seconds;
}
