/**
 * The options of `webhook()` and their validation.
 */
import { type Cluster, checkCluster } from "../cluster/cluster.js";
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
   * Runs this webhook as one of many replicas behind a load balancer, e.g.
   * `redisCluster({ url })` from `grammy-runner/redis`: every replica stores
   * the updates it receives in the cluster's partitioned streams (a re-send
   * reaching any replica is dropped) before Telegram gets its answer, and
   * handles its share of the partitions with per-chat order. Excludes
   * `journal`; `answerAfter` does not apply. See docs/cluster.md.
   */
  cluster?: Cluster;
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
  cluster: Cluster | undefined;
  answerAfter: number;
  maxBodySize: number;
  dedupWindow: number;
  silent: boolean;
}

const KEYS = [
  "secretToken",
  "sink",
  "journal",
  "cluster",
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
    cluster:
      opts.cluster === undefined ? undefined : checkWebhookCluster(opts.cluster, opts.journal),
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

/** A cluster that can take webhook replicas, and no journal beside it. */
function checkWebhookCluster(value: unknown, journal: unknown): Cluster {
  const cluster = checkCluster(value);
  if (journal !== undefined)
    throw new TypeError(
      "Options `journal` and `cluster` exclude each other: a cluster stores updates itself.",
    );
  if (typeof cluster.joinWebhook !== "function")
    throw new TypeError(
      `Option \`cluster\` must be able to take webhook replicas (a \`joinWebhook\` function, as redisCluster() has), but got an object without one.`,
    );
  return cluster;
}
