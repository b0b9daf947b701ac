/**
 * Users, chats, messages and updates as Telegram would send them, for the
 * fake server's `push*()` helpers and its `sendMessage` answers.
 */
import type { Chat, Message, Update, User, UserFromGetMe } from "grammy/types";
import { checkFunction, checkNumber, checkOneOf, optionalObject, show } from "../util/options.js";

/** Ids and counts that the tests' arithmetic keeps exact. */
export const SAFE_INTEGER = {
  min: Number.MIN_SAFE_INTEGER,
  max: Number.MAX_SAFE_INTEGER,
  integer: true,
};

type NonChannelChat = Chat.PrivateChat | Chat.GroupChat | Chat.SupergroupChat;
type TextMessage = Message.TextMessage & Update.NonChannel;
/** An update before the queue gives it its `update_id`. */
type NewUpdate = Omit<Update, "update_id">;

/** Options of `pushMessage()`. */
export interface MessageOptions {
  fromId?: number;
  chatType?: "private" | "group" | "supergroup";
}

/** Options of `pushMessages()`. */
export interface MessagesOptions {
  count: number;
  chats?: number;
  users?: number;
  firstChatId?: number;
  text?: (i: number) => string;
}

/** Options of `pushCallbackQuery()`. */
export interface CallbackQueryOptions {
  fromId: number;
  chatId?: number;
  data?: string;
}

/**
 * Builds updates and messages, with one counter for message ids in every chat
 * and one for callback query ids. Checks the `push*()` arguments.
 */
export class UpdateBuilder {
  private nextMessageId = 1;
  private nextCallbackId = 1;

  constructor(private readonly botInfo: UserFromGetMe) {}

  message(chatId: number, text: string, options: MessageOptions | undefined): NewUpdate {
    checkNumber("chatId", chatId, SAFE_INTEGER);
    if (typeof text !== "string")
      throw new TypeError(`text must be a string, but got ${show(text)}.`);
    const opts = optionalObject("options", options, ["fromId", "chatType"]);
    const chatType =
      opts.chatType === undefined
        ? "private"
        : checkOneOf("options.chatType", opts.chatType, ["private", "group", "supergroup"]);
    const fromId =
      opts.fromId === undefined
        ? Math.abs(chatId)
        : checkNumber("options.fromId", opts.fromId, SAFE_INTEGER);
    return { message: this.textMessage(chat(chatId, chatType), user(fromId), text) };
  }

  /** Builds `pushMessages()`'s updates, handing each to `push` as soon as it is built. */
  messages(options: MessagesOptions, push: (update: NewUpdate) => Update): Update[] {
    const { count, chats, users, firstChatId, text } = checkMessagesOptions(options);
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
      updates.push(push({ message: this.textMessage(inChat, from, body) }));
    }
    return updates;
  }

  callbackQuery(options: CallbackQueryOptions): NewUpdate {
    const opts = optionalObject("options", options, ["fromId", "chatId", "data"]);
    const fromId = checkNumber("options.fromId", opts.fromId, SAFE_INTEGER);
    const chatId =
      opts.chatId === undefined ? fromId : checkNumber("options.chatId", opts.chatId, SAFE_INTEGER);
    const data = opts.data ?? "data";
    if (typeof data !== "string")
      throw new TypeError(`Option \`options.data\` must be a string, but got ${show(data)}.`);
    const inChat = chat(chatId, chatId < 0 ? "supergroup" : "private");
    const message = this.textMessage(inChat, botUser(this.botInfo), "Choose:");
    return {
      callback_query: {
        id: String(this.nextCallbackId++),
        from: user(fromId),
        chat_instance: String(chatId),
        message,
        data,
      },
    };
  }

  editedMessage(chatId: number, messageId: number, text: string): NewUpdate {
    checkNumber("chatId", chatId, SAFE_INTEGER);
    checkNumber("messageId", messageId, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
    if (typeof text !== "string")
      throw new TypeError(`text must be a string, but got ${show(text)}.`);
    const now = Math.floor(Date.now() / 1000);
    const message = this.textMessage(chat(chatId, "private"), user(Math.abs(chatId)), text);
    return { edited_message: { ...message, message_id: messageId, edit_date: now } };
  }

  /** The message `sendMessage` answers with: from the bot, in the chat `chat_id` names. */
  sentMessage(params: Record<string, unknown>): Message {
    const chatId = params.chat_id;
    let inChat: Chat;
    if (typeof chatId === "number") {
      inChat = chat(chatId, chatId >= 0 ? "private" : chatId <= -1e12 ? "supergroup" : "group");
    } else {
      const name = String(chatId ?? "channel").replace(/^@/, "");
      inChat = { id: -1_000_000_000_001, type: "channel", title: name, username: name };
    }
    return {
      message_id: this.nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: inChat,
      from: botUser(this.botInfo),
      text: typeof params.text === "string" ? params.text : "",
    } as Message;
  }

  /** A text message; one starting with `/command` gets the entity `bot.command()` matches. */
  private textMessage(inChat: NonChannelChat, from: User, text: string): TextMessage {
    const message: TextMessage = {
      message_id: this.nextMessageId++,
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
}

function checkMessagesOptions(options: MessagesOptions) {
  const opts = optionalObject("options", options, [
    "count",
    "chats",
    "users",
    "firstChatId",
    "text",
  ]);
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
  return { count, chats, users, firstChatId, text };
}

/**
 * What `getMe` returns: `overrides` over a bot whose id is the token's digits
 * and whose capabilities are all off but joining groups, as for a new bot.
 */
export function botInfoFor(token: string, overrides: Partial<UserFromGetMe>): UserFromGetMe {
  return {
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
    ...overrides,
  };
}

/** A user with a name made from the id. */
function user(id: number): User {
  return { id, is_bot: false, first_name: `User ${id}` };
}

/** A private chat with the user `id`, or a group named after the id. */
function chat(id: number, type: "private" | "group" | "supergroup"): NonChannelChat {
  if (type === "private") return { id, type, first_name: `User ${id}` };
  return { id, type, title: `Group ${id}` };
}

/** The bot as the sender of its messages. */
function botUser({ id, first_name, username }: UserFromGetMe): User {
  return { id, is_bot: true, first_name, username };
}
