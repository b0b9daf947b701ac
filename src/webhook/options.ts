/**
 * The options of `webhook()` and their validation.
 */
import { checkJournal, type UpdateJournal } from "../journal/journal.js";
import { type SinkOptions, type ValidSinkOptions, validateSinkOptions } from "../runner/sink.js";
import {
  checkBoolean,
  checkDuration,
  checkNumber,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";

/**
 * Options of `webhook()`.
 *
 * @example
 * ```ts
 * const handle = webhook(bot, {
 *   secretToken: process.env.WEBHOOK_SECRET,
 *   sink: { concurrency: 100, timeout: { milliseconds: 30_000, handler: () => {} } },
 *   journal: fileJournal("./journal"),
 * });
 * ```
 */
export interface WebhookOptions<Y extends { update_id: number }> {
  /**
   * The `secret_token` given to `setWebhook`: a request whose
   * `X-Telegram-Bot-Api-Secret-Token` header differs is answered 401. 1 to 256
   * characters `A-Z`, `a-z`, `0-9`, `_` and `-`. Without it anyone who learns
   * the URL can send updates; `webhook()` warns at start.
   */
  secretToken?: string;
  /** Concurrency cap, parking cap and handler timeout, as for `run()`. */
  sink?: SinkOptions<Y>;
  /**
   * Stores every update durably before Telegram gets its answer, so that a
   * slow handler never makes Telegram re-send and a crash loses nothing: the
   * updates not done are handled again at the next start, first, in order.
   * A failed store ends the webhook (`task()` rejects), as it ends `run()`.
   */
  journal?: UpdateJournal<Y>;
  /**
   * Without a journal, Telegram gets its answer when the handler settles, or
   * after this many milliseconds, whichever comes first (the handler goes
   * on). Keep it well under Telegram's own wait (about 60 s). Default 5,000.
   */
  answerAfter?: number;
  /** Largest request body read, in bytes; a larger one is answered 413. Default 1 MiB. */
  maxBodySize?: number;
  /**
   * How many recent `update_id`s are remembered, so that an update Telegram
   * sends again is handled once. Default 10,000.
   */
  dedupWindow?: number;
  /** Prints no warning (no secret) and no failure to the console; `debug` logs still. Default false. */
  silent?: boolean;
}

/** The options after validation, with their defaults. */
export interface ValidWebhookOptions<Y extends { update_id: number }> {
  secretToken: string | undefined;
  sink: ValidSinkOptions<Y>;
  journal: UpdateJournal<Y> | undefined;
  answerAfter: number;
  maxBodySize: number;
  dedupWindow: number;
  silent: boolean;
}

const KEYS = [
  "secretToken",
  "sink",
  "journal",
  "answerAfter",
  "maxBodySize",
  "dedupWindow",
  "silent",
] as const;
/** What Telegram accepts as `secret_token`. */
const SECRET_SHAPE = /^[A-Za-z0-9_-]{1,256}$/;

/** Validates the options of `webhook()` when it is called. */
export function validateWebhookOptions<Y extends { update_id: number }>(
  options: WebhookOptions<Y> | undefined,
): ValidWebhookOptions<Y> {
  const opts = optionalObject("options", options);
  rejectUnknownKeys("", opts, KEYS);
  const { secretToken } = opts;
  if (
    secretToken !== undefined &&
    (typeof secretToken !== "string" || !SECRET_SHAPE.test(secretToken))
  )
    throw new TypeError(
      `Option \`secretToken\` must be 1 to 256 characters A-Z, a-z, 0-9, _ or - (what Telegram accepts as secret_token), but got ${typeof secretToken === "string" ? `a string of ${secretToken.length} characters` : show(secretToken)}.`,
    );
  return {
    secretToken,
    sink: validateSinkOptions(opts.sink),
    journal: opts.journal === undefined ? undefined : checkJournal<Y>(opts.journal),
    answerAfter:
      opts.answerAfter === undefined ? 5_000 : checkDuration("answerAfter", opts.answerAfter),
    maxBodySize:
      opts.maxBodySize === undefined
        ? 1_048_576
        : checkNumber("maxBodySize", opts.maxBodySize, { min: 1, integer: true }),
    dedupWindow:
      opts.dedupWindow === undefined
        ? 10_000
        : checkNumber("dedupWindow", opts.dedupWindow, { min: 0, max: 10_000_000, integer: true }),
    silent: opts.silent === undefined ? false : checkBoolean("silent", opts.silent),
  };
}
