/**
 * The fake Bot API server's contract: {@link createFakeBotApi}, its options
 * and the {@link FakeBotApi} it returns. The server behind it is server.ts.
 */
import type { Update, UserFromGetMe } from "grammy/types";
import { checkNumber, optionalObject, show } from "../util/options.js";
import { botInfoFor } from "./builders.js";
import type { Fault } from "./faults.js";
import { FakeBotApiServer } from "./server.js";
import type { FakeBotApiStats, RecordedCall } from "./stats.js";
import type { WebhookDeliveryOptions } from "./webhook-delivery.js";

const DEFAULT_TOKEN = "123456789:TEST_TOKEN_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_SHAPE = /^\d+:[A-Za-z0-9_-]+$/;

/**
 * Options of {@link createFakeBotApi}.
 *
 * @example
 * ```ts
 * const api = await createFakeBotApi({
 *   token: "42:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi",
 *   botInfo: { username: "my_bot", can_read_all_group_messages: true },
 *   maxUpdates: 100_000,
 * });
 * ```
 */
export interface FakeBotApiOptions {
  /**
   * The token the server accepts in request paths; requests with any other
   * token get 401. Default `"123456789:TEST_TOKEN_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`.
   */
  token?: string;
  /**
   * Fields merged over the default bot user that `getMe` returns (id taken from
   * the token's digits, `is_bot: true`, `first_name: "Test Bot"`,
   * `username: "test_bot"`, every capability `false` except `can_join_groups`).
   */
  botInfo?: Partial<UserFromGetMe>;
  /**
   * Most updates held at once; pushing beyond it forgets the oldest pending
   * update (as if it expired), so a producer that outruns the bot cannot exhaust
   * memory. Default unlimited.
   */
  maxUpdates?: number;
  /**
   * How updates are delivered once `setWebhook` set a webhook (an
   * `http://127.0.0.1:<port>/...` URL): the timeout after which an unanswered
   * request counts as failed, and the backoff of re-sends. Telegram waits
   * about a minute; tests want less.
   */
  webhook?: WebhookDeliveryOptions;
}
/**
 * A fake Telegram Bot API server on 127.0.0.1 that real grammY bots can talk to.
 * Create one with {@link createFakeBotApi}.
 *
 * It follows Telegram where it matters for polling: `getUpdates` honours
 * `offset` (negative too), `limit` (clamped to 1..100), `timeout` (long polling;
 * fractions of a second are accepted to keep tests fast) and `allowed_updates`
 * (kept until changed); a second `getUpdates` ends a waiting one with 409, and so
 * does an active webhook (`setWebhook` / `deleteWebhook` / `getWebhookInfo`).
 * A webhook at `http://127.0.0.1:<port>/...` receives the updates as Telegram
 * sends them: POSTed with the `secret_token` header, a chat's next update only
 * after the previous one was answered with 2xx, at most `max_connections`
 * (default 40) at once, re-sent after a failure or timeout with backoff (see
 * the `webhook` option, and the `webhook*` counters in {@link stats}).
 * `deleteWebhook` gives the updates not yet answered back to `getUpdates`.
 * `getMe` returns {@link botInfo}, `sendMessage` a message from the bot, and
 * every other method `true`. Method names are matched case-sensitively.
 *
 * @example
 * ```ts
 * const api = await createFakeBotApi();
 * const bot = new Bot(api.token, { client: { apiRoot: api.url } });
 * bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
 * api.pushMessage(1, "hello");
 * void bot.start();
 * await api.waitFor((a) => a.calls("sendMessage").length === 1);
 * await bot.stop();
 * await api.close();
 * ```
 */
export interface FakeBotApi {
  /** The value for grammY's `client.apiRoot`, e.g. `"http://127.0.0.1:41234"` (no trailing slash). */
  readonly url: string;
  /** The token the server accepts. */
  readonly token: string;
  /** What `getMe` returns. */
  readonly botInfo: UserFromGetMe;
  /** Live counters; see {@link FakeBotApiStats}. */
  readonly stats: FakeBotApiStats;
  /**
   * Queues an update. `update_id` is assigned (one more than the highest so far,
   * starting at 1) unless given. Like Telegram, `getUpdates` leaves out
   * `chat_member`, `message_reaction` and `message_reaction_count` updates
   * unless `allowed_updates` asks for them.
   *
   * @example
   * ```ts
   * const update = api.pushUpdate({ poll_answer: { poll_id: "p", option_ids: [0], user: { id: 1, is_bot: false, first_name: "A" } } });
   * ```
   */
  pushUpdate(update: Omit<Update, "update_id"> & { update_id?: number }): Update;
  /**
   * Queues any JSON value as-is into the update stream, e.g. an invalid update.
   * A value without an integer `update_id` is confirmed together with the update
   * queued before it.
   *
   * @example
   * ```ts
   * api.pushRaw({});
   * api.pushRaw({ update_id: "x" });
   * ```
   */
  pushRaw(value: unknown): void;
  /**
   * Queues a text message in a chat: a private chat with the user `chatId`
   * unless `chatType` says otherwise, sent by `fromId` (default `chatId`, or its
   * absolute value in groups). Text starting with `/command` gets a
   * `bot_command` entity so `bot.command()` matches.
   *
   * @example
   * ```ts
   * api.pushMessage(7, "/start");
   * api.pushMessage(-100, "hi all", { fromId: 7, chatType: "supergroup" });
   * ```
   */
  pushMessage(
    chatId: number,
    text?: string,
    options?: { fromId?: number; chatType?: "private" | "group" | "supergroup" },
  ): Update;
  /**
   * Queues `count` text messages spread round-robin over `chats` chats (ids
   * `firstChatId`, `firstChatId + 1`, …; default 1 chat starting at id 1). Without
   * `users`, each chat is a private chat with its user; with `users`, chats are
   * groups and message `i` comes from user `1 + (i % users)`. Text defaults to
   * `"msg <i>"` with `i` counting from 0.
   *
   * @example
   * ```ts
   * const updates = api.pushMessages({ count: 10_000, chats: 100 });
   * await api.waitFor((a) => a.stats.confirmedOffset > updates[updates.length - 1].update_id);
   * ```
   */
  pushMessages(options: {
    count: number;
    chats?: number;
    users?: number;
    firstChatId?: number;
    text?: (i: number) => string;
  }): Update[];
  /**
   * Queues a callback query from `fromId` on a bot message in chat `chatId`
   * (default the user's private chat) with `data` (default `"data"`).
   *
   * @example
   * ```ts
   * api.pushCallbackQuery({ fromId: 7, data: "like" });
   * ```
   */
  pushCallbackQuery(options: { fromId: number; chatId?: number; data?: string }): Update;
  /**
   * Queues an `edited_message` update for message `messageId` in the private chat `chatId`.
   *
   * @example
   * ```ts
   * const { message } = api.pushMessage(7, "helo");
   * api.pushEditedMessage(7, message!.message_id, "hello");
   * ```
   */
  pushEditedMessage(chatId: number, messageId: number, text: string): Update;
  /**
   * Answers the next `times` (default 1, `Infinity` allowed) requests of
   * `method` (default `"getUpdates"`) with `fault`. Faults for a method are used
   * in the order they were injected.
   *
   * @example
   * ```ts
   * api.inject({ type: "http", status: 500 }, { times: 2 });
   * api.inject({ type: "drop" }, { method: "sendMessage" });
   * ```
   */
  inject(fault: Fault, options?: { times?: number; method?: string }): void;
  /**
   * Forgets the faults not used yet, for `method` or for every method.
   *
   * @example
   * ```ts
   * api.inject({ type: "http", status: 502 }, { times: Infinity });
   * // ... the bot retries ...
   * api.clearFaults();
   * ```
   */
  clearFaults(method?: string): void;
  /**
   * The recorded requests, oldest first, of `method` or of every method.
   * `getUpdates` requests are only counted, so `calls("getUpdates")` holds just
   * the last one and `calls()` none of them.
   *
   * @example
   * ```ts
   * expect(api.calls("sendMessage").map((c) => c.params.text)).toEqual(["hi"]);
   * expect(api.calls("getUpdates")[0]?.params.offset).toBe(3);
   * ```
   */
  calls(method?: string): RecordedCall[];
  /**
   * Closes every keep-alive connection that has no request in progress, as a
   * server or proxy does with idle connections; clients must open new ones.
   *
   * @example
   * ```ts
   * api.closeIdleConnections();
   * await bot.api.getMe(); // on a new connection
   * ```
   */
  closeIdleConnections(): void;
  /**
   * Resolves once `predicate` holds, checked now, after every change of the
   * server's state and every 10 ms (so a condition on the bot's side, such as
   * a handler counter, works too). Rejects if it throws, after `timeoutMs`
   * (default 10 000) or when the server is closed.
   *
   * @example
   * ```ts
   * api.pushMessages({ count: 100 });
   * await api.waitFor((a) => a.stats.confirmedOffset >= 101);
   * ```
   */
  waitFor(predicate: (api: FakeBotApi) => boolean, timeoutMs?: number): Promise<void>;
  /**
   * Number of queued updates not yet confirmed by an offset (nor skipped by `allowed_updates`).
   *
   * @example
   * ```ts
   * api.pushMessage(1);
   * expect(api.pending()).toBe(1);
   * ```
   */
  pending(): number;
  /**
   * Clears the recorded calls and the counters in {@link stats}, except
   * `confirmedOffset`; queued updates, faults and the webhook stay.
   *
   * @example
   * ```ts
   * await bot.init();
   * api.resetCalls();
   * expect(api.stats.methodCalls).toEqual({});
   * ```
   */
  resetCalls(): void;
  /**
   * Ends every connection (held long polls included) and timer and resolves when
   * the server is closed. Idempotent.
   *
   * @example
   * ```ts
   * afterEach(() => api.close());
   * ```
   */
  close(): Promise<void>;
}

/**
 * Starts a fake Telegram Bot API server on 127.0.0.1 at a random port.
 *
 * @example
 * ```ts
 * import { Bot } from "grammy";
 * import { createFakeBotApi } from "grammy-runner/testing";
 *
 * const api = await createFakeBotApi();
 * const bot = new Bot(api.token, { client: { apiRoot: api.url } });
 * await bot.init(); // bot.botInfo is api.botInfo
 * await api.close();
 * ```
 */
export async function createFakeBotApi(options?: FakeBotApiOptions): Promise<FakeBotApi> {
  const opts = optionalObject("options", options, ["token", "botInfo", "maxUpdates", "webhook"]);
  const token = opts.token ?? DEFAULT_TOKEN;
  if (typeof token !== "string" || !TOKEN_SHAPE.test(token)) {
    throw new TypeError(
      `Option \`options.token\` must be a bot token like "123:ABC", but got ${show(token)}.`,
    );
  }
  const botInfo = optionalObject("options.botInfo", opts.botInfo);
  const maxUpdates =
    opts.maxUpdates === undefined
      ? Number.POSITIVE_INFINITY
      : checkNumber("options.maxUpdates", opts.maxUpdates, { min: 1, integer: true });
  const api = new FakeBotApiServer(
    token,
    botInfoFor(token, botInfo),
    maxUpdates,
    deliveryOptions(opts.webhook),
  );
  await api.listen();
  return api;
}

function deliveryOptions(
  options: WebhookDeliveryOptions | undefined,
): Required<WebhookDeliveryOptions> {
  const opts = optionalObject("options.webhook", options, ["timeoutMs", "retryMs", "maxRetryMs"]);
  const ms = (key: keyof WebhookDeliveryOptions, fallback: number) => {
    const value = opts[key];
    return value === undefined
      ? fallback
      : checkNumber(`options.webhook.${key}`, value, { min: 1 });
  };
  return {
    timeoutMs: ms("timeoutMs", 60_000),
    retryMs: ms("retryMs", 1_000),
    maxRetryMs: ms("maxRetryMs", 60_000),
  };
}
