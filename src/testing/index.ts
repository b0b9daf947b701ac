/**
 * `grammy-runner/testing`: a fake Telegram Bot API server for testing bots and
 * runners without network access.
 *
 * @example
 * ```ts
 * import { Bot } from "grammy";
 * import { createFakeBotApi } from "grammy-runner/testing";
 *
 * const api = await createFakeBotApi();
 * const bot = new Bot(api.token, { client: { apiRoot: api.url } });
 * ```
 *
 * @module grammy-runner/testing
 */
export type { Update, UserFromGetMe } from "grammy/types";
export { createFakeBotApi, type FakeBotApi, type FakeBotApiOptions } from "./fake-bot-api.js";
export type { Fault } from "./faults.js";
export type { FakeBotApiStats, RecordedCall } from "./stats.js";
export type { WebhookDeliveryOptions } from "./webhook-delivery.js";
