import type { AbortSignal as GrammySignal } from "abort-controller";
import type { UserFromGetMe } from "grammy/types";
import { addSecret, describeError } from "../util/log.js";
import { show } from "../util/options.js";

/**
 * The parts of a grammY `Bot` the runner uses. A `Bot` from any copy of grammY
 * fits; so does any object with the same members.
 *
 * @example
 * ```ts
 * const adapter: BotAdapter<Update, BotError> = bot;
 * ```
 */
export interface BotAdapter<Y, R> {
  init?: (signal?: GrammySignal) => Promise<void>;
  handleUpdate: (update: Y) => Promise<void>;
  errorHandler: (error: R) => unknown;
  api: {
    getUpdates: (
      args: { offset: number; limit: number; timeout: number },
      signal: GrammySignal,
    ) => Promise<Y[]>;
    deleteWebhook?: (
      args?: { drop_pending_updates?: boolean },
      signal?: GrammySignal,
    ) => Promise<unknown>;
  };
}

/**
 * Checks that `bot` has what the runner calls, so that a wrong argument fails
 * at once instead of in the first fetch.
 */
export function checkBot(bot: unknown): void {
  const b = bot as Partial<BotAdapter<unknown, unknown>> | null | undefined;
  if (typeof b !== "object" || b === null)
    throw new TypeError(`Expected a grammY Bot as the first argument, but got ${show(bot)}.`);
  if (typeof b.api !== "object" || b.api === null || typeof b.api.getUpdates !== "function")
    throw new TypeError(
      "Expected a grammY Bot: the given object has no `api.getUpdates` function.",
    );
  if (typeof b.handleUpdate !== "function")
    throw new TypeError("Expected a grammY Bot: the given object has no `handleUpdate` function.");
}

/** `bot.botInfo`, which grammY's getter throws for until the bot is initialised. */
export function botInfoOf(bot: object): UserFromGetMe {
  try {
    return (bot as { botInfo: UserFromGetMe }).botInfo;
  } catch (error) {
    throw new TypeError(`runner.onStart needs bot.botInfo: ${describeError(error)}`);
  }
}

/**
 * Makes every redacted message hide the bot's token by its exact value, as
 * grammY's network errors quote the request URL and a token of an unusual
 * shape escapes the token pattern.
 */
export function hideToken(bot: object): void {
  const b = bot as { token?: unknown; api?: { token?: unknown } };
  addSecret(b.token);
  addSecret(b.api?.token);
}

/** The members of a grammY `Bot` that let the runner send getMe itself; checked at run time. */
interface InitParts {
  isInited?: unknown;
  botInfo?: UserFromGetMe;
  api: {
    getMe?: unknown;
    options?: { apiRoot?: unknown };
  };
}

const DEFAULT_API_HOST = "api.telegram.org";

/**
 * getMe as the runner sends it before `bot.init()`, under its own retry
 * policy: grammY's `init()` would retry a network error silently and for
 * good. The answer becomes `bot.botInfo`, so `init()` then sends nothing.
 * `undefined` for a bot that knows its info already or is not grammY-like.
 */
export function getMeOf(bot: object): ((signal: GrammySignal) => Promise<void>) | undefined {
  const b = bot as InitParts;
  const { getMe } = b.api;
  const isInited = b.isInited;
  if (typeof getMe !== "function" || typeof isInited !== "function") return undefined;
  if (isInited.call(bot) === true) return undefined;
  return async (signal) => {
    const me = (await getMe.call(b.api, signal)) as UserFromGetMe;
    if (isInited.call(bot) !== true) b.botInfo = me;
  };
}

/** The host of the bot's Bot API server, for messages (the token is in the path, never here). */
export function apiHostOf(bot: object): string {
  const root = (bot as InitParts).api.options?.apiRoot;
  if (root === undefined) return DEFAULT_API_HOST;
  try {
    return new URL(String(root)).host || "the configured client.apiRoot";
  } catch {
    return "the configured client.apiRoot";
  }
}
