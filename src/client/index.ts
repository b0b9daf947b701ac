/**
 * `grammy-runner/fetch`: a fast fetch function for grammY's `client.fetch`,
 * built on undici (an optional peer dependency).
 *
 * @example
 * ```ts
 * import { Bot } from "grammy";
 * import { createFetch } from "grammy-runner/fetch";
 *
 * const bot = new Bot(process.env.BOT_TOKEN ?? "", { client: { fetch: createFetch() } });
 * ```
 *
 * @module
 */
export { type BotApiFetch, createFetch, type FetchInit } from "./create-fetch.js";
export { FetchError } from "./errors.js";
export type { FetchClientOptions } from "./options.js";
export type { SignalLike } from "./request.js";
export type { FetchResponse } from "./response.js";
