import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { Chat, Message, Update, User, UserFromGetMe } from "grammy/types";
import { logger } from "../util/log.js";
import {
  checkDuration,
  checkFunction,
  checkNumber,
  checkOneOf,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";
import { BadRequestError, parseParams } from "./params.js";

const log = logger("testing");

const DEFAULT_TOKEN = "123456789:TEST_TOKEN_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_SHAPE = /^\d+:[A-Za-z0-9_-]+$/;
const CONFLICT_POLL =
  "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
const CONFLICT_WEBHOOK =
  "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
/** Update types Telegram leaves out unless `allowed_updates` names them. */
const OPT_IN_TYPES: ReadonlySet<string> = new Set([
  "chat_member",
  "message_reaction",
  "message_reaction_count",
]);
const FAULT_TYPES = [
  "http",
  "retry_after",
  "unauthorized",
  "conflict",
  "non_json",
  "result",
  "drop",
  "delay",
] as const;
/** Longest timer Node accepts without firing at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * How often waitFor() also checks on its own: a condition on the bot's side
 * (a handler counter) can change while the server's state does not, e.g.
 * while the runner's next poll is held.
 */
const RECHECK_MS = 10;
const SAFE_INTEGER = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true };

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
}

/**
 * A fault that the fake server answers a request with instead of its normal
 * answer; queue faults with {@link FakeBotApi.inject}.
 *
 * - `http`: `status` with `{ ok: false, error_code, description }`
 *   (description defaults to the status text, e.g. "Bad Gateway").
 * - `retry_after`: 429 with `parameters.retry_after`.
 * - `unauthorized`: 401 "Unauthorized".
 * - `conflict`: 409, as when another instance polls the same bot.
 * - `non_json`: 200 with an HTML body.
 * - `result`: 200 `{ ok: true, result: value }` for any `value`, e.g. a malformed update list.
 * - `drop`: the connection is destroyed without an answer.
 * - `delay`: the normal answer, `ms` milliseconds late.
 *
 * @example
 * ```ts
 * api.inject({ type: "http", status: 502 }, { times: 3 });
 * api.inject({ type: "retry_after", seconds: 1 }, { method: "sendMessage" });
 * api.inject({ type: "result", value: [{}] });
 * ```
 */
export type Fault =
  | { type: "http"; status: number; description?: string }
  | { type: "retry_after"; seconds: number }
  | { type: "unauthorized" }
  | { type: "conflict" }
  | { type: "non_json" }
  | { type: "result"; value: unknown }
  | { type: "drop" }
  | { type: "delay"; ms: number };

/**
 * Counters of a {@link FakeBotApi}; {@link FakeBotApi.stats} is always current.
 *
 * @example
 * ```ts
 * const { delivered, redelivered, confirmedOffset } = api.stats;
 * expect(redelivered).toBe(0);
 * ```
 */
export interface FakeBotApiStats {
  /** `getUpdates` requests received (including answered with a fault). */
  getUpdatesCalls: number;
  /** Highest `offset` any `getUpdates` request has confirmed (0 initially). */
  confirmedOffset: number;
  /** Updates returned by `getUpdates`, counting each time one is returned. */
  delivered: number;
  /** Of `delivered`, those returned again after an earlier delivery without being confirmed. */
  redelivered: number;
  /** Requests per method name, `getUpdates` included. */
  methodCalls: Record<string, number>;
  /** Highest number of `getUpdates` requests open at the same time (2 or more means overlapping polls). */
  maxConcurrentPolls: number;
}

/**
 * A request the fake server received, see {@link FakeBotApi.calls}.
 *
 * @example
 * ```ts
 * const [call] = api.calls("sendMessage");
 * expect(call.params).toMatchObject({ chat_id: 1, text: "hi" });
 * ```
 */
export interface RecordedCall {
  /** The method name as it appeared in the URL. */
  method: string;
  /** The parsed parameters (JSON body, form fields or query string). */
  params: Record<string, unknown>;
  /** `Date.now()` when the request was received. */
  at: number;
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
  const opts = optionalObject("options", options);
  rejectUnknownKeys("options", opts, ["token", "botInfo", "maxUpdates"]);
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
  const api = new FakeBotApiServer(token, botInfo, maxUpdates);
  await api.listen();
  return api;
}

/** One queued update, serialized once when pushed. */
interface Entry {
  /** Position for offsets: the update_id, or the one before for raw values without one. */
  seq: number;
  json: string;
  /** First key other than `update_id`, for `allowed_updates`. */
  type: string | undefined;
  delivered: boolean;
  /** Skipped by `allowed_updates`: no longer pending, awaiting removal from the queue. */
  dropped: boolean;
}

/** A request being handled. */
interface Exchange {
  method: string;
  res: ServerResponse;
  params: Record<string, unknown>;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  /** For getUpdates: the limit, and whether it is held waiting for updates. */
  limit: number;
  held: boolean;
}

interface Waiter {
  predicate: (api: FakeBotApi) => boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

class FakeBotApiServer implements FakeBotApi {
  readonly token: string;
  readonly botInfo: UserFromGetMe;
  readonly stats: FakeBotApiStats = {
    getUpdatesCalls: 0,
    confirmedOffset: 0,
    delivered: 0,
    redelivered: 0,
    methodCalls: {},
    maxConcurrentPolls: 0,
  };

  readonly #server: Server;
  readonly #maxUpdates: number;
  #url = "";
  /** Queued updates from `#head` on; entries before it are confirmed. */
  #queue: Entry[] = [];
  #head = 0;
  #pending = 0;
  /** Whether `seq` never decreases along the queue, so confirming can stop early. */
  #monotonic = true;
  #lastSeq = Number.NEGATIVE_INFINITY;
  #nextId = 1;
  #nextMessageId = 1;
  #nextCallbackId = 1;
  /** `undefined`: Telegram's default set. */
  #allowed: ReadonlySet<string> | undefined;
  #webhookUrl = "";
  readonly #open = new Set<Exchange>();
  /** getUpdates requests not answered yet. */
  readonly #polls = new Set<Exchange>();
  #flushScheduled = false;
  readonly #faults = new Map<string, { fault: Fault; remaining: number }[]>();
  #calls: RecordedCall[] = [];
  #lastGetUpdates: RecordedCall | undefined;
  readonly #waiters = new Set<Waiter>();
  #recheck: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(token: string, botInfo: Partial<UserFromGetMe>, maxUpdates: number) {
    this.token = token;
    this.#maxUpdates = maxUpdates;
    this.botInfo = {
      id: Number(token.slice(0, token.indexOf(":"))),
      is_bot: true,
      first_name: "Test Bot",
      username: "test_bot",
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
      ...botInfo,
    };
    this.#server = createServer((req, res) => this.#onRequest(req, res));
    this.#server.keepAliveTimeout = 60_000;
  }

  get url(): string {
    return this.#url;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://127.0.0.1:${port}`;
    log(`fake Bot API listening on ${this.#url}`);
  }

  // === Updates

  pushUpdate = (update: Omit<Update, "update_id"> & { update_id?: number }): Update => {
    if (typeof update !== "object" || update === null || Array.isArray(update))
      throw new TypeError(`pushUpdate() needs an update object, but got ${show(update)}.`);
    const { update_id, ...rest } = update;
    const id =
      update_id === undefined
        ? this.#nextId
        : checkNumber("update.update_id", update_id, SAFE_INTEGER);
    const full: Update = { update_id: id, ...rest };
    this.#enqueue(id, JSON.stringify(full), updateType(full), true);
    return full;
  };

  pushRaw = (value: unknown): void => {
    let seq = this.#nextId - 1;
    let type: string | undefined;
    let bump = false;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const id = (value as { update_id?: unknown }).update_id;
      if (typeof id === "number" && Number.isSafeInteger(id)) {
        seq = id;
        bump = true;
      }
      type = updateType(value);
    }
    this.#enqueue(seq, JSON.stringify(value) ?? "null", type, bump);
  };

  pushMessage = (
    chatId: number,
    text = "hello",
    options?: { fromId?: number; chatType?: "private" | "group" | "supergroup" },
  ): Update => {
    checkNumber("chatId", chatId, SAFE_INTEGER);
    if (typeof text !== "string")
      throw new TypeError(`text must be a string, but got ${show(text)}.`);
    const opts = optionalObject("options", options);
    rejectUnknownKeys("options", opts, ["fromId", "chatType"]);
    const chatType =
      opts.chatType === undefined
        ? "private"
        : checkOneOf("options.chatType", opts.chatType, ["private", "group", "supergroup"]);
    const fromId =
      opts.fromId === undefined
        ? Math.abs(chatId)
        : checkNumber("options.fromId", opts.fromId, SAFE_INTEGER);
    return this.pushUpdate({ message: this.#message(chat(chatId, chatType), user(fromId), text) });
  };

  pushMessages = (options: {
    count: number;
    chats?: number;
    users?: number;
    firstChatId?: number;
    text?: (i: number) => string;
  }): Update[] => {
    const opts = optionalObject("options", options);
    rejectUnknownKeys("options", opts, ["count", "chats", "users", "firstChatId", "text"]);
    const count = checkNumber("options.count", opts.count, { min: 0, max: 1e9, integer: true });
    const chats =
      opts.chats === undefined
        ? 1
        : checkNumber("options.chats", opts.chats, { min: 1, max: 1e9, integer: true });
    const users =
      opts.users === undefined
        ? undefined
        : checkNumber("options.users", opts.users, { min: 1, max: 1e9, integer: true });
    const firstChatId =
      opts.firstChatId === undefined
        ? 1
        : checkNumber("options.firstChatId", opts.firstChatId, SAFE_INTEGER);
    const text = opts.text === undefined ? undefined : checkFunction("options.text", opts.text);
    const chatObjects: NonChannelChat[] = [];
    for (let c = 0; c < Math.min(chats, count); c++)
      chatObjects.push(chat(firstChatId + c, users === undefined ? "private" : "group"));
    const userObjects: User[] = [];
    if (users !== undefined)
      for (let u = 0; u < Math.min(users, count); u++) userObjects.push(user(u + 1));
    const updates: Update[] = [];
    for (let i = 0; i < count; i++) {
      const inChat = chatObjects[i % chats];
      const from = users === undefined ? user(inChat.id) : userObjects[i % users];
      const body = text === undefined ? `msg ${i}` : text(i);
      updates.push(this.pushUpdate({ message: this.#message(inChat, from, body) }));
    }
    return updates;
  };

  pushCallbackQuery = (options: { fromId: number; chatId?: number; data?: string }): Update => {
    const opts = optionalObject("options", options);
    rejectUnknownKeys("options", opts, ["fromId", "chatId", "data"]);
    const fromId = checkNumber("options.fromId", opts.fromId, SAFE_INTEGER);
    const chatId =
      opts.chatId === undefined ? fromId : checkNumber("options.chatId", opts.chatId, SAFE_INTEGER);
    const data = opts.data ?? "data";
    if (typeof data !== "string")
      throw new TypeError(`Option \`options.data\` must be a string, but got ${show(data)}.`);
    const inChat = chat(chatId, chatId < 0 ? "supergroup" : "private");
    const { id, first_name, username } = this.botInfo;
    const message = this.#message(inChat, { id, is_bot: true, first_name, username }, "Choose:");
    return this.pushUpdate({
      callback_query: {
        id: String(this.#nextCallbackId++),
        from: user(fromId),
        chat_instance: String(chatId),
        message,
        data,
      },
    });
  };

  pushEditedMessage = (chatId: number, messageId: number, text: string): Update => {
    checkNumber("chatId", chatId, SAFE_INTEGER);
    checkNumber("messageId", messageId, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
    if (typeof text !== "string")
      throw new TypeError(`text must be a string, but got ${show(text)}.`);
    const now = Math.floor(Date.now() / 1000);
    const message = this.#message(chat(chatId, "private"), user(Math.abs(chatId)), text);
    return this.pushUpdate({
      edited_message: { ...message, message_id: messageId, edit_date: now },
    });
  };

  pending = (): number => this.#pending;

  #message(
    inChat: NonChannelChat,
    from: User,
    text: string,
  ): Message.TextMessage & Update.NonChannel {
    const message: Message.TextMessage & Update.NonChannel = {
      message_id: this.#nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: inChat,
      from,
      text,
    };
    const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
    if (command !== null)
      message.entities = [{ type: "bot_command", offset: 0, length: command[0].length }];
    return message;
  }

  #enqueue(seq: number, json: string, type: string | undefined, bumpId: boolean): void {
    if (bumpId && seq >= this.#nextId) this.#nextId = seq + 1;
    while (this.#pending >= this.#maxUpdates) {
      const oldest = this.#queue[this.#head++];
      if (!oldest.dropped) this.#pending--;
    }
    this.#queue.push({ seq, json, type, delivered: false, dropped: false });
    this.#pending++;
    if (seq < this.#lastSeq) this.#monotonic = false;
    else this.#lastSeq = seq;
    this.#compact();
    if (this.#polls.size > 0 && !this.#flushScheduled) {
      // A microtask, so that updates pushed in one synchronous run go out together.
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    this.#notify();
  }

  /** Answers held polls now that updates may be there. */
  #flush = (): void => {
    this.#flushScheduled = false;
    for (const poll of this.#polls) {
      if (!poll.held) continue;
      const body = this.#collect(poll.limit);
      if (body !== undefined) this.#answerUpdates(poll, body);
    }
    // Collecting may have dropped updates a poll does not allow.
    this.#notify();
  };

  /** The JSON of up to `limit` deliverable updates joined by commas, or `undefined` for none. */
  #collect(limit: number): string | undefined {
    const queue = this.#queue;
    const parts: string[] = [];
    for (let i = this.#head; i < queue.length && parts.length < limit; i++) {
      const entry = queue[i];
      if (!entry.dropped && entry.type !== undefined && !this.#isAllowed(entry.type)) {
        entry.dropped = true;
        this.#pending--;
      }
      if (entry.dropped) {
        if (i === this.#head) this.#head++;
        continue;
      }
      parts.push(entry.json);
      if (entry.delivered) this.stats.redelivered++;
      else entry.delivered = true;
    }
    this.stats.delivered += parts.length;
    this.#compact();
    return parts.length === 0 ? undefined : parts.join(",");
  }

  #isAllowed(type: string): boolean {
    return this.#allowed === undefined ? !OPT_IN_TYPES.has(type) : this.#allowed.has(type);
  }

  /** Forgets every update with `seq < offset`. */
  #confirm(offset: number): void {
    if (offset > this.stats.confirmedOffset) this.stats.confirmedOffset = offset;
    const queue = this.#queue;
    if (this.#monotonic) {
      let head = this.#head;
      while (head < queue.length && queue[head].seq < offset) {
        if (!queue[head].dropped) this.#pending--;
        head++;
      }
      this.#head = head;
    } else {
      const kept: Entry[] = [];
      let last = Number.NEGATIVE_INFINITY;
      let monotonic = true;
      for (let i = this.#head; i < queue.length; i++) {
        const entry = queue[i];
        if (entry.seq >= offset) {
          kept.push(entry);
          if (entry.seq < last) monotonic = false;
          else last = entry.seq;
        } else if (!entry.dropped) this.#pending--;
      }
      this.#queue = kept;
      this.#head = 0;
      this.#monotonic = monotonic;
      this.#lastSeq = last;
    }
    this.#compact();
  }

  /** Negative offsets: keeps the last `count` pending updates. */
  #keepLast(count: number): void {
    let lastDropped: number | undefined;
    while (this.#pending > count) {
      const entry = this.#queue[this.#head++];
      if (!entry.dropped) {
        this.#pending--;
        lastDropped = entry.seq;
      }
    }
    if (lastDropped !== undefined && lastDropped + 1 > this.stats.confirmedOffset)
      this.stats.confirmedOffset = lastDropped + 1;
    this.#compact();
  }

  #dropAll(): void {
    this.#queue = [];
    this.#head = 0;
    this.#pending = 0;
    this.#monotonic = true;
    this.#lastSeq = Number.NEGATIVE_INFINITY;
  }

  /** Releases the confirmed part of the queue without shifting it on every update. */
  #compact(): void {
    const queue = this.#queue;
    if (this.#head === 0) return;
    if (this.#head >= queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  // === Faults, records, waiting

  inject = (fault: Fault, options?: { times?: number; method?: string }): void => {
    const checked = checkFault(fault);
    const opts = optionalObject("options", options);
    rejectUnknownKeys("options", opts, ["times", "method"]);
    const times =
      opts.times === undefined
        ? 1
        : checkNumber("options.times", opts.times, { min: 1, integer: true });
    const method = opts.method ?? "getUpdates";
    if (typeof method !== "string" || method === "")
      throw new TypeError(
        `Option \`options.method\` must be a method name, but got ${show(method)}.`,
      );
    let list = this.#faults.get(method);
    if (list === undefined) {
      list = [];
      this.#faults.set(method, list);
    }
    list.push({ fault: checked, remaining: times });
  };

  clearFaults = (method?: string): void => {
    if (method === undefined) this.#faults.clear();
    else this.#faults.delete(method);
  };

  calls = (method?: string): RecordedCall[] => {
    if (method === undefined) return this.#calls.slice();
    if (method === "getUpdates")
      return this.#lastGetUpdates === undefined ? [] : [this.#lastGetUpdates];
    return this.#calls.filter((call) => call.method === method);
  };

  resetCalls = (): void => {
    this.#calls = [];
    this.#lastGetUpdates = undefined;
    const { stats } = this;
    stats.getUpdatesCalls = 0;
    stats.delivered = 0;
    stats.redelivered = 0;
    for (const key of Object.keys(stats.methodCalls)) delete stats.methodCalls[key];
    stats.maxConcurrentPolls = this.#polls.size;
    this.#notify();
  };

  waitFor = (predicate: (api: FakeBotApi) => boolean, timeoutMs = 10_000): Promise<void> => {
    checkFunction("predicate", predicate);
    checkDuration("timeoutMs", timeoutMs);
    return new Promise<void>((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("FakeBotApi.waitFor(): the server is closed."));
        return;
      }
      try {
        if (predicate(this)) {
          resolve();
          return;
        }
      } catch (error) {
        reject(error);
        return;
      }
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(
          () => {
            this.#waiters.delete(waiter);
            reject(
              new Error(
                `FakeBotApi.waitFor(): condition not met within ${timeoutMs} ms: ${describePredicate(predicate)} (${this.#describeState()})`,
              ),
            );
          },
          Math.min(timeoutMs, MAX_TIMER_MS),
        ),
      };
      this.#waiters.add(waiter);
      if (this.#recheck === undefined) {
        this.#recheck = setInterval(() => this.#notify(), RECHECK_MS);
        this.#recheck.unref();
      }
    });
  };

  #describeState(): string {
    const s = this.stats;
    return `pending ${this.#pending}, confirmedOffset ${s.confirmedOffset}, getUpdates calls ${s.getUpdatesCalls}, delivered ${s.delivered}, redelivered ${s.redelivered}, recorded calls ${this.#calls.length}`;
  }

  #notify(): void {
    if (this.#waiters.size === 0) {
      clearInterval(this.#recheck);
      this.#recheck = undefined;
      return;
    }
    for (const waiter of this.#waiters) {
      let met: boolean;
      try {
        met = waiter.predicate(this);
      } catch (error) {
        this.#waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.reject(error);
        continue;
      }
      if (met) {
        this.#waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve();
      }
    }
  }

  close = (): Promise<void> => {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    for (const exchange of this.#open) {
      exchange.done = true;
      clearTimeout(exchange.timer);
    }
    this.#open.clear();
    this.#polls.clear();
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(
        new Error("FakeBotApi.waitFor(): the server was closed before the condition was met."),
      );
    }
    this.#waiters.clear();
    clearInterval(this.#recheck);
    this.#recheck = undefined;
    this.#closing = new Promise<void>((resolve) => {
      // The listening handle is freed in the loop's close phase, after this
      // callback; resolving a timer later means no handle is left over.
      this.#server.close(() => setTimeout(resolve, 0));
      this.#server.closeAllConnections();
    });
    log("fake Bot API closed");
    return this.#closing;
  };

  // === HTTP

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const path = q === -1 ? target : target.slice(0, q);
    const match = /^\/bot([^/]+)\/(?:test\/)?([A-Za-z0-9_]+)$/.exec(path);
    if (match === null || this.#closed) {
      req.resume();
      sendError(res, 404, "Not Found");
      return;
    }
    if (safeDecode(match[1]) !== this.token) {
      req.resume();
      sendError(res, 401, "Unauthorized");
      return;
    }
    const exchange: Exchange = {
      method: match[2],
      res,
      params: {},
      done: false,
      timer: undefined,
      limit: 100,
      held: false,
    };
    this.#open.add(exchange);
    res.on("close", () => {
      if (exchange.done) return;
      // The client went away (e.g. grammY aborted a long poll on bot.stop()).
      this.#finish(exchange);
      this.#notify();
    });
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => {});
    req.on("end", () => {
      if (exchange.done) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      try {
        exchange.params = parseParams(
          req.headers["content-type"],
          body,
          q === -1 ? "" : target.slice(q + 1),
        );
      } catch (error) {
        if (!(error instanceof BadRequestError)) throw error;
        this.#send(
          exchange,
          400,
          JSON.stringify({ ok: false, error_code: 400, description: error.message }),
        );
        return;
      }
      try {
        this.#received(exchange);
      } catch (error) {
        // Input nothing anticipated (e.g. a chat_id that cannot become a
        // string) must fail this request, not the test process.
        if (!exchange.done)
          this.#send(
            exchange,
            400,
            JSON.stringify({
              ok: false,
              error_code: 400,
              description: `Bad Request: ${error instanceof Error ? error.message : String(error)}`,
            }),
          );
      }
    });
  }

  #received(exchange: Exchange): void {
    const { method, params } = exchange;
    const { stats } = this;
    // Own properties only: a method called "constructor" must not find Object's.
    stats.methodCalls[method] =
      (Object.hasOwn(stats.methodCalls, method) ? stats.methodCalls[method] : 0) + 1;
    if (method === "getUpdates") {
      stats.getUpdatesCalls++;
      this.#lastGetUpdates = { method, params, at: Date.now() };
      this.#polls.add(exchange);
      if (this.#polls.size > stats.maxConcurrentPolls) stats.maxConcurrentPolls = this.#polls.size;
      // Like Telegram, a new poll ends the one still waiting.
      for (const other of this.#polls)
        if (other !== exchange) this.#sendError(other, 409, CONFLICT_POLL);
    } else {
      this.#calls.push({ method, params, at: Date.now() });
    }
    const fault = this.#faults.size === 0 ? undefined : this.#takeFault(method);
    if (fault === undefined) this.#dispatch(exchange);
    else if (fault.type === "delay") {
      exchange.timer = setTimeout(
        () => {
          exchange.timer = undefined;
          this.#dispatch(exchange);
          this.#notify();
        },
        Math.min(fault.ms, MAX_TIMER_MS),
      );
    } else this.#answerFault(exchange, fault);
    this.#notify();
  }

  #takeFault(method: string): Fault | undefined {
    const list = this.#faults.get(method);
    if (list === undefined || list.length === 0) return undefined;
    const first = list[0];
    if (--first.remaining <= 0) list.shift();
    log(`injecting ${first.fault.type} into ${method}`);
    return first.fault;
  }

  #answerFault(exchange: Exchange, fault: Exclude<Fault, { type: "delay" }>): void {
    switch (fault.type) {
      case "http":
        this.#sendError(
          exchange,
          fault.status,
          fault.description ?? STATUS_CODES[fault.status] ?? "Error",
        );
        return;
      case "retry_after":
        this.#send(
          exchange,
          429,
          JSON.stringify({
            ok: false,
            error_code: 429,
            description: `Too Many Requests: retry after ${fault.seconds}`,
            parameters: { retry_after: fault.seconds },
          }),
        );
        return;
      case "unauthorized":
        this.#sendError(exchange, 401, "Unauthorized");
        return;
      case "conflict":
        this.#sendError(exchange, 409, CONFLICT_POLL);
        return;
      case "non_json":
        this.#send(exchange, 200, "<html>oops</html>", "text/html");
        return;
      case "result":
        this.#send(exchange, 200, JSON.stringify({ ok: true, result: fault.value }));
        return;
      case "drop":
        this.#finish(exchange);
        exchange.res.socket?.destroy();
        return;
    }
  }

  #dispatch(exchange: Exchange): void {
    const { params } = exchange;
    switch (exchange.method) {
      case "getUpdates":
        this.#getUpdates(exchange);
        return;
      case "getMe":
        this.#ok(exchange, this.botInfo);
        return;
      case "setWebhook":
      case "deleteWebhook": {
        if (params.drop_pending_updates === true) this.#dropAll();
        const url =
          exchange.method === "setWebhook" && typeof params.url === "string" ? params.url : "";
        this.#webhookUrl = url;
        if (url !== "")
          for (const poll of this.#polls) this.#sendError(poll, 409, CONFLICT_WEBHOOK);
        this.#ok(exchange, true);
        return;
      }
      case "getWebhookInfo":
        this.#ok(exchange, {
          url: this.#webhookUrl,
          has_custom_certificate: false,
          pending_update_count: this.#pending,
        });
        return;
      case "sendMessage":
        this.#ok(exchange, this.#sentMessage(params));
        return;
      default:
        this.#ok(exchange, true);
    }
  }

  #getUpdates(exchange: Exchange): void {
    if (this.#webhookUrl !== "") {
      this.#sendError(exchange, 409, CONFLICT_WEBHOOK);
      return;
    }
    const { offset, limit, timeout, allowed_updates } = exchange.params;
    if (typeof offset === "number" && Number.isFinite(offset)) {
      if (offset > 0) this.#confirm(Math.floor(offset));
      else if (offset < 0) this.#keepLast(Math.floor(-offset));
    }
    if (Array.isArray(allowed_updates)) {
      const types = allowed_updates.filter((t): t is string => typeof t === "string");
      this.#allowed = types.length === 0 ? undefined : new Set(types);
    }
    exchange.limit =
      typeof limit === "number" && limit > 0 ? Math.min(100, Math.max(1, Math.floor(limit))) : 100;
    const body = this.#collect(exchange.limit);
    const seconds = typeof timeout === "number" && timeout > 0 ? timeout : 0;
    if (body !== undefined || seconds === 0) {
      this.#answerUpdates(exchange, body ?? "");
      return;
    }
    exchange.held = true;
    exchange.timer = setTimeout(
      () => {
        exchange.timer = undefined;
        this.#answerUpdates(exchange, this.#collect(exchange.limit) ?? "");
      },
      Math.min(seconds * 1000, MAX_TIMER_MS),
    );
  }

  #answerUpdates(exchange: Exchange, joined: string): void {
    this.#send(exchange, 200, `{"ok":true,"result":[${joined}]}`);
  }

  #sentMessage(params: Record<string, unknown>): Message {
    const chatId = params.chat_id;
    let inChat: Chat;
    if (typeof chatId === "number") {
      inChat = chat(chatId, chatId >= 0 ? "private" : chatId <= -1e12 ? "supergroup" : "group");
    } else {
      const name = String(chatId ?? "channel").replace(/^@/, "");
      inChat = { id: -1_000_000_000_001, type: "channel", title: name, username: name };
    }
    const { id, first_name, username } = this.botInfo;
    return {
      message_id: this.#nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: inChat,
      from: { id, is_bot: true, first_name, username },
      text: typeof params.text === "string" ? params.text : "",
    } as Message;
  }

  #ok(exchange: Exchange, result: unknown): void {
    this.#send(exchange, 200, JSON.stringify({ ok: true, result }));
  }

  #sendError(exchange: Exchange, status: number, description: string): void {
    this.#send(exchange, status, JSON.stringify({ ok: false, error_code: status, description }));
  }

  #send(exchange: Exchange, status: number, body: string, contentType = "application/json"): void {
    if (exchange.done) return;
    this.#finish(exchange);
    const { res } = exchange;
    if (res.destroyed) return;
    res.writeHead(status, {
      "Content-Type": contentType,
      "Content-Length": Buffer.byteLength(body),
    });
    res.end(body);
    this.#notify();
  }

  /** Marks a request as answered (or abandoned) and releases what it holds. */
  #finish(exchange: Exchange): void {
    exchange.done = true;
    exchange.held = false;
    if (exchange.timer !== undefined) {
      clearTimeout(exchange.timer);
      exchange.timer = undefined;
    }
    this.#open.delete(exchange);
    this.#polls.delete(exchange);
  }
}

function sendError(res: ServerResponse, status: number, description: string): void {
  const body = JSON.stringify({ ok: false, error_code: status, description });
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function updateType(update: object): string | undefined {
  for (const key in update) if (key !== "update_id") return key;
  return undefined;
}

function user(id: number): User {
  return { id, is_bot: false, first_name: `User ${id}` };
}

type NonChannelChat = Chat.PrivateChat | Chat.GroupChat | Chat.SupergroupChat;

function chat(id: number, type: "private" | "group" | "supergroup"): NonChannelChat {
  if (type === "private") return { id, type, first_name: `User ${id}` };
  return { id, type, title: `Group ${id}` };
}

function describePredicate(predicate: (api: FakeBotApi) => boolean): string {
  const source = String(predicate).replace(/\s+/g, " ");
  return source.length > 200 ? `${source.slice(0, 200)}…` : source;
}

function checkFault(fault: Fault): Fault {
  const value = optionalObject("fault", fault) as Partial<Fault> & Record<string, unknown>;
  const type = checkOneOf("fault.type", value.type, FAULT_TYPES);
  switch (type) {
    case "http": {
      rejectUnknownKeys("fault", value, ["type", "status", "description"]);
      // Not 1xx: Node sends those as interim responses, and the client would wait on.
      const status = checkNumber("fault.status", value.status, {
        min: 200,
        max: 599,
        integer: true,
      });
      const description = value.description;
      if (description !== undefined && typeof description !== "string")
        throw new TypeError(
          `Option \`fault.description\` must be a string, but got ${show(description)}.`,
        );
      return description === undefined ? { type, status } : { type, status, description };
    }
    case "retry_after":
      rejectUnknownKeys("fault", value, ["type", "seconds"]);
      return { type, seconds: checkNumber("fault.seconds", value.seconds, { min: 0, max: 1e9 }) };
    case "delay":
      rejectUnknownKeys("fault", value, ["type", "ms"]);
      return { type, ms: checkDuration("fault.ms", value.ms) };
    case "result":
      rejectUnknownKeys("fault", value, ["type", "value"]);
      // Checked now, not when a request finds it: it is sent as JSON.
      try {
        JSON.stringify(value.value);
      } catch (error) {
        throw new TypeError(
          `Option \`fault.value\` must be JSON-serializable, but ${error instanceof Error ? error.message : String(error)}.`,
        );
      }
      return { type, value: value.value };
    default:
      rejectUnknownKeys("fault", value, ["type"]);
      return { type };
  }
}
