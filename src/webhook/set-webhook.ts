/**
 * Telling Telegram where the webhook is: `setWebhook` with the handle's
 * secret, so the two cannot disagree.
 */
import {
  checkBoolean,
  checkNumber,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";

/**
 * Options of `handle.setWebhook()`: the `setWebhook` parameters besides
 * `url` and `secret_token` (which comes from `webhook()`'s `secretToken`).
 *
 * @example
 * ```ts
 * await handle.setWebhook("https://example.com/bot", {
 *   max_connections: 40,
 *   allowed_updates: ["message", "callback_query"],
 *   drop_pending_updates: false,
 * });
 * ```
 */
export interface SetWebhookOptions {
  /** Most requests Telegram keeps open at once, 1 to 100 (Telegram's default 40). */
  max_connections?: number;
  /** Update types to receive; kept by Telegram until changed. */
  allowed_updates?: readonly string[];
  /** Forget the updates waiting on Telegram. */
  drop_pending_updates?: boolean;
  /** The IP address to send to instead of the one DNS gives. */
  ip_address?: string;
}

/**
 * The part of a grammY `Api` that `handle.setWebhook()` calls.
 *
 * @example
 * ```ts
 * const api: SetWebhookApi = bot.api;
 * ```
 */
export interface SetWebhookApi {
  setWebhook(url: string, other?: Record<string, unknown>): Promise<unknown>;
}

const KEYS = ["max_connections", "allowed_updates", "drop_pending_updates", "ip_address"] as const;

/** Validates and sends `setWebhook` with the handle's secret. */
export async function setWebhook(
  api: SetWebhookApi | undefined,
  url: string,
  secretToken: string | undefined,
  options: SetWebhookOptions | undefined,
): Promise<void> {
  if (typeof api?.setWebhook !== "function")
    throw new TypeError(
      "handle.setWebhook() needs a grammY Bot: the bot has no `api.setWebhook` function.",
    );
  if (typeof url !== "string" || !/^https?:\/\//.test(url))
    throw new TypeError(
      `handle.setWebhook(): \`url\` must be an http(s) URL, but got ${show(url)}.`,
    );
  const opts = optionalObject("setWebhook options", options);
  rejectUnknownKeys("setWebhook", opts, KEYS);
  const other: Record<string, unknown> = {};
  if (opts.max_connections !== undefined)
    other.max_connections = checkNumber("setWebhook.max_connections", opts.max_connections, {
      min: 1,
      max: 100,
      integer: true,
    });
  if (opts.allowed_updates !== undefined) {
    if (
      !Array.isArray(opts.allowed_updates) ||
      opts.allowed_updates.some((t) => typeof t !== "string")
    )
      throw new TypeError(
        `Option \`setWebhook.allowed_updates\` must be an array of update types, but got ${show(opts.allowed_updates)}.`,
      );
    other.allowed_updates = opts.allowed_updates;
  }
  if (opts.drop_pending_updates !== undefined)
    other.drop_pending_updates = checkBoolean(
      "setWebhook.drop_pending_updates",
      opts.drop_pending_updates,
    );
  if (opts.ip_address !== undefined) other.ip_address = opts.ip_address;
  if (secretToken !== undefined) other.secret_token = secretToken;
  await api.setWebhook(url, other);
}
