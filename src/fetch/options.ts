import type { Update, UserFromGetMe } from "grammy/types";
import { checkBoolean, checkFunction, checkNumber, optionalObject, show } from "../util/options.js";
import { type RetryInterval, type RetryPolicy, retryPolicy } from "./retry.js";

/**
 * What `getUpdates` is asked for.
 *
 * @example
 * ```ts
 * run(bot, { runner: { fetch: { timeout: 50, allowed_updates: ["message", "callback_query"] } } });
 * ```
 */
export interface FetchOptions {
  /** Long-polling timeout in seconds, a finite number >= 0. Default: 30. */
  timeout?: number;
  /** Update types to receive; Telegram keeps the last list sent. */
  allowed_updates?: ReadonlyArray<Exclude<keyof Update, "update_id">>;
}

/**
 * How updates are fetched and how failures are retried.
 *
 * @example
 * ```ts
 * run(bot, {
 *   runner: {
 *     fetch: { timeout: 30 },
 *     retryInterval: "exponential",
 *     maxRetryInterval: 10_000,
 *     maxRetryTime: 60 * 60 * 1000,
 *     drop_pending_updates: true,
 *     onStart: (me) => console.log(`@${me.username} is running`),
 *   },
 * });
 * ```
 */
export interface RunnerOptions {
  /** What `getUpdates` is asked for. */
  fetch?: FetchOptions;
  /**
   * After failing for this many milliseconds in a row, fetching gives up and
   * the runner ends with a `RunnerError` (`retry_time_exceeded`). Default: 15 hours.
   */
  maxRetryTime?: number;
  /**
   * Growth of the wait between retries: `"exponential"` (100 ms, doubling;
   * default), `"quadratic"` (100 ms, plus 100 ms each time), or a constant
   * number of milliseconds (>= 1). Each wait is capped by `maxRetryInterval`
   * and jittered by up to half its length.
   */
  retryInterval?: "exponential" | "quadratic" | number;
  /** Longest wait between retries, in milliseconds (>= 1). Default: 30,000. */
  maxRetryInterval?: number;
  /** Do not print fetch errors and warnings to the console (debug logs stay). */
  silent?: boolean;
  /** Drop the updates waiting on Telegram before the first fetch, like `bot.start()`. */
  drop_pending_updates?: boolean;
  /**
   * On 409 "webhook is active", delete the webhook and go on (default
   * `true`, like `bot.start()`); `false` ends the runner with a `RunnerError`.
   */
  deleteWebhook?: boolean;
  /** Called once the bot is initialised, before the first fetch, like `bot.start()`'s. */
  onStart?: (botInfo: UserFromGetMe) => void | Promise<void>;
}

const RUNNER_KEYS = [
  "fetch",
  "maxRetryTime",
  "retryInterval",
  "maxRetryInterval",
  "silent",
  "drop_pending_updates",
  "deleteWebhook",
  "onStart",
] as const;
const FETCH_KEYS = ["timeout", "allowed_updates"] as const;

/** {@link RunnerOptions} checked, with every default filled in. */
export interface FetcherSettings {
  timeout: number;
  allowed: FetchOptions["allowed_updates"];
  retry: RetryPolicy;
  silent: boolean;
  dropPending: boolean;
  deleteWebhook: boolean;
  onStart: RunnerOptions["onStart"];
}

/**
 * Checks `options` against what `bot` can do; throws a TypeError or
 * RangeError naming the first wrong option, before anything is fetched.
 */
export function checkRunnerOptions(
  bot: { api: { deleteWebhook?: unknown } },
  options: RunnerOptions | undefined,
): FetcherSettings {
  const opts = optionalObject("runner", options, RUNNER_KEYS);
  const fetch = checkFetchOptions(opts.fetch);
  const retry = checkRetryOptions(opts);
  const silent = checkBoolean("runner.silent", opts.silent, false);
  const dropPending = checkBoolean("runner.drop_pending_updates", opts.drop_pending_updates, false);
  const deleteWebhook = checkBoolean("runner.deleteWebhook", opts.deleteWebhook, true);
  const onStart =
    opts.onStart === undefined ? undefined : checkFunction("runner.onStart", opts.onStart);
  if (dropPending && typeof bot.api.deleteWebhook !== "function")
    throw new TypeError(
      "Option `runner.drop_pending_updates` needs `bot.api.deleteWebhook`, which the given bot lacks.",
    );
  return { ...fetch, retry, silent, dropPending, deleteWebhook, onStart };
}

function checkFetchOptions(
  options: FetchOptions | undefined,
): Pick<FetcherSettings, "timeout" | "allowed"> {
  const opts = optionalObject("runner.fetch", options, FETCH_KEYS);
  const timeout = checkNumber("runner.fetch.timeout", opts.timeout ?? 30, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  });
  const allowed = opts.allowed_updates;
  if (allowed !== undefined && !Array.isArray(allowed))
    throw new TypeError(
      `Option \`runner.fetch.allowed_updates\` must be an array of update types, but got ${show(allowed)}.`,
    );
  return { timeout, allowed };
}

function checkRetryOptions(opts: Partial<RunnerOptions>): RetryPolicy {
  const maxRetryTime = checkNumber("runner.maxRetryTime", opts.maxRetryTime ?? 15 * 3_600_000, {
    min: 0,
  });
  const maxRetryInterval = checkNumber("runner.maxRetryInterval", opts.maxRetryInterval ?? 30_000, {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  });
  return retryPolicy(checkRetryInterval(opts.retryInterval), maxRetryInterval, maxRetryTime);
}

function checkRetryInterval(value: RetryInterval | undefined): RetryInterval {
  const interval = value ?? "exponential";
  if (
    interval === "exponential" ||
    interval === "quadratic" ||
    (typeof interval === "number" && interval >= 1 && interval <= Number.MAX_SAFE_INTEGER)
  )
    return interval;
  const message = `Option \`runner.retryInterval\` must be "exponential", "quadratic" or a number of milliseconds from 1 to ${Number.MAX_SAFE_INTEGER}, but got ${show(interval)}.`;
  throw typeof interval === "number" ? new RangeError(message) : new TypeError(message);
}
