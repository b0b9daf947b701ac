import type { AbortSignal as GrammySignal } from "abort-controller";
import type { Update, UserFromGetMe } from "grammy/types";
import { RunnerError } from "../util/errors.js";
import { describeError, logger, redact } from "../util/log.js";
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";
import { type SignalLike, sleep } from "../util/timers.js";
import { createTransport, TRANSPORTS } from "./transport.js";

const log = logger("fetch");

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
  /**
   * How `getUpdates` is sent. `"grammy"` (default) calls `bot.api.getUpdates`,
   * so everything configured on the bot's API client applies.
   *
   * `"node-http"` sends every `getUpdates` (the final offset confirmation on
   * stop included) as a plain `node:http`/`node:https` POST over one
   * keep-alive connection and parses the answer with `JSON.parse`, which
   * costs less CPU per update. It uses the bot's token, `client.apiRoot`,
   * `client.environment` and `client.buildUrl`, gives up on a request after
   * the long-polling timeout plus 10 s, and answers errors with the same
   * `error_code`, `description` and `parameters` fields, so retries, 429
   * `retry_after` and 401/409 handling stay the same. It bypasses, for
   * `getUpdates` only:
   * - API transformers (`bot.api.config.use(...)`), e.g. auto-retry,
   *   throttlers or loggers: they do not see `getUpdates`;
   * - the client's fetch setup: `client.baseFetchConfig` (custom agent,
   *   proxy, headers), a custom `client.fetch` and `client.timeoutSeconds`;
   * - `client.sensitiveLogs` (its errors never contain the token anyway).
   *
   * `bot.init()`, `deleteWebhook` and every call your handlers make still go
   * through grammY. Node.js only. Keep the default if `getUpdates` must pass a
   * transformer or a proxy.
   *
   * @example
   * ```ts
   * const handle = run(bot, { runner: { transport: "node-http" } });
   * ```
   */
  transport?: "grammy" | "node-http";
}

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

const RUNNER_KEYS = [
  "fetch",
  "maxRetryTime",
  "retryInterval",
  "maxRetryInterval",
  "silent",
  "drop_pending_updates",
  "deleteWebhook",
  "onStart",
  "transport",
] as const;
const FETCH_KEYS = ["timeout", "allowed_updates"] as const;
const FIRST_RETRY_MS = 100;
/** How long the final offset confirmation on stop may take. */
const CONFIRM_TIMEOUT_MS = 5_000;

/** Counters the runner exposes through `handle.stats()`. */
export interface FetchCounters {
  getUpdatesCalls: number;
  fetched: number;
  retries: number;
  invalid: number;
  lastError: string | undefined;
}

/** The fetcher as the runner uses it: `fetch` plus the stop-time confirmation. */
export interface Fetcher<Y> {
  fetch: (batchSize: number, signal: GrammySignal) => Promise<Y[]>;
  /** Tells Telegram that every fetched update is done, unless it already knows. */
  confirm: () => Promise<void>;
  /** Frees the connections of the `"node-http"` transport; `confirm` does it too. Idempotent. */
  close: () => void;
  /** Initialises the bot (init, drop_pending_updates, onStart) unless done; `fetch` does it too. */
  init: (signal: GrammySignal) => Promise<void>;
  /**
   * Moves the offset of the next getUpdates forward to `offset` (never back):
   * a journal resumes where the previous process stopped fetching.
   */
  startAt: (offset: number) => void;
  /** The offset of the next getUpdates: one more than the last update fetched. */
  nextOffset: () => number;
  counters: FetchCounters;
  silent: boolean;
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

/** Validates runner options and builds the fetcher; used by `run()` and `createUpdateFetcher()`. */
export function createFetcher<Y extends { update_id: number }, R>(
  bot: BotAdapter<Y, R>,
  options: RunnerOptions | undefined,
): Fetcher<Y> {
  checkBot(bot);
  const opts = optionalObject("runner", options);
  rejectUnknownKeys("runner", opts, RUNNER_KEYS);
  const fetchOpts = optionalObject("runner.fetch", opts.fetch);
  rejectUnknownKeys("runner.fetch", fetchOpts, FETCH_KEYS);
  const timeout = checkNumber("runner.fetch.timeout", fetchOpts.timeout ?? 30, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  });
  const allowed = fetchOpts.allowed_updates;
  if (allowed !== undefined && !Array.isArray(allowed))
    throw new TypeError(
      `Option \`runner.fetch.allowed_updates\` must be an array of update types, but got ${show(allowed)}.`,
    );
  const maxRetryTime = checkNumber("runner.maxRetryTime", opts.maxRetryTime ?? 15 * 3_600_000, {
    min: 0,
  });
  const maxRetryInterval = checkNumber("runner.maxRetryInterval", opts.maxRetryInterval ?? 30_000, {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  });
  const interval = opts.retryInterval ?? "exponential";
  if (
    interval !== "exponential" &&
    interval !== "quadratic" &&
    !(typeof interval === "number" && interval >= 1 && interval <= Number.MAX_SAFE_INTEGER)
  ) {
    const message = `Option \`runner.retryInterval\` must be "exponential", "quadratic" or a number of milliseconds from 1 to ${Number.MAX_SAFE_INTEGER}, but got ${show(interval)}.`;
    throw typeof interval === "number" ? new RangeError(message) : new TypeError(message);
  }
  const nextInterval =
    interval === "exponential"
      ? (ms: number) => ms * 2
      : interval === "quadratic"
        ? (ms: number) => ms + FIRST_RETRY_MS
        : (ms: number) => ms;
  const firstInterval = typeof interval === "number" ? interval : FIRST_RETRY_MS;
  const silent = opts.silent === undefined ? false : checkBoolean("runner.silent", opts.silent);
  const dropPending =
    opts.drop_pending_updates === undefined
      ? false
      : checkBoolean("runner.drop_pending_updates", opts.drop_pending_updates);
  const deleteWebhook =
    opts.deleteWebhook === undefined
      ? true
      : checkBoolean("runner.deleteWebhook", opts.deleteWebhook);
  const onStart =
    opts.onStart === undefined ? undefined : checkFunction("runner.onStart", opts.onStart);
  if (dropPending && typeof bot.api.deleteWebhook !== "function")
    throw new TypeError(
      "Option `runner.drop_pending_updates` needs `bot.api.deleteWebhook`, which the given bot lacks.",
    );
  const transport = createTransport<Y>(
    bot,
    opts.transport === undefined
      ? "grammy"
      : checkOneOf("runner.transport", opts.transport, TRANSPORTS),
  );

  const counters: FetchCounters = {
    getUpdatesCalls: 0,
    fetched: 0,
    retries: 0,
    invalid: 0,
    lastError: undefined,
  };
  /** Next update_id we expect; everything below it was fetched. */
  let offset = 0;
  /** The offset Telegram was last told about. */
  let confirmed = 0;
  let started = false;

  function warn(message: string): void {
    log(message);
    if (!silent) console.error(`[grammy-runner] ${redact(message)}`);
  }

  /**
   * Runs `call` until it succeeds, waiting between failures; throws a
   * RunnerError on fatal answers, or the abort error once `signal` aborts.
   */
  async function retrying<T>(what: string, signal: SignalLike, call: () => Promise<T>): Promise<T> {
    let wait = firstInterval;
    let failingSince: number | undefined;
    let webhookDeleted = false;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (signal.aborted) throw error;
        counters.lastError = describeError(error);
        failingSince ??= Date.now();
        const fatal = classify(error);
        if (fatal === "webhook" && deleteWebhook && !webhookDeleted && bot.api.deleteWebhook) {
          // Once only: a webhook that keeps coming back is someone else's.
          if (await removeWebhook(signal)) {
            webhookDeleted = true;
            continue;
          }
        } else if (fatal !== undefined) {
          throw fatalError(fatal, error);
        }
        const retryAfter = retryAfterMs(error);
        const delay = retryAfter ?? Math.min(wait, maxRetryInterval) * (0.5 + Math.random() / 2);
        if (Date.now() + delay - failingSince > maxRetryTime) {
          throw new RunnerError(
            "retry_time_exceeded",
            `Gave up: ${what} kept failing for ${Math.round((Date.now() - failingSince) / 1000)} s (runner.maxRetryTime is ${maxRetryTime} ms). Last error: ${counters.lastError}`,
            { cause: error },
          );
        }
        counters.retries++;
        warn(`${what} failed (${counters.lastError}); retrying in ${Math.round(delay)} ms.`);
        if (retryAfter === undefined) wait = nextInterval(wait);
        if (!(await sleep(delay, signal))) throw new Error("aborted");
      }
    }
  }

  async function removeWebhook(signal: SignalLike): Promise<boolean> {
    const remove = bot.api.deleteWebhook;
    if (remove === undefined) return false;
    warn("A webhook is set for this bot; deleting it to use long polling.");
    try {
      await remove.call(bot.api, {}, signal as GrammySignal);
      return true;
    } catch (error) {
      if (signal.aborted) throw error;
      counters.lastError = describeError(error);
      return false;
    }
  }

  async function start(signal: GrammySignal): Promise<void> {
    if (bot.init !== undefined) {
      const init = bot.init;
      await retrying("bot.init()", signal, () => init.call(bot, signal));
    }
    const deleteHook = bot.api.deleteWebhook;
    if (dropPending && deleteHook !== undefined) {
      await retrying("deleteWebhook", signal, () =>
        deleteHook.call(bot.api, { drop_pending_updates: true }, signal),
      );
    }
    if (onStart !== undefined) await onStart(botInfoOf(bot));
    started = true;
  }

  async function init(signal: GrammySignal): Promise<void> {
    if (!started) await start(signal);
  }

  function startAt(next: number): void {
    if (Number.isSafeInteger(next) && next > offset) {
      log(`starting at offset ${next}`);
      offset = next;
    }
  }

  async function fetch(batchSize: number, signal: GrammySignal): Promise<Y[]> {
    if (!started) await start(signal);
    const limit = Math.max(1, Math.min(100, Math.floor(batchSize) || 1));
    const args = { timeout, ...(allowed && { allowed_updates: allowed }), offset, limit };
    const updates = await retrying("getUpdates", signal, async () => {
      counters.getUpdatesCalls++;
      const sent = args.offset;
      const answer = await transport.getUpdates(args, signal);
      confirmed = Math.max(confirmed, sent);
      return accept(answer);
    });
    counters.fetched += updates.length;
    return updates;
  }

  /**
   * Keeps the updates Telegram should have sent: objects with an integer
   * update_id at or above the offset, in increasing order, each once. A
   * non-empty answer with nothing usable throws so the call is retried with
   * backoff instead of being repeated at once forever.
   */
  function accept(answer: unknown): Y[] {
    if (!Array.isArray(answer))
      throw new Error(`getUpdates answered ${show(answer)} instead of an array of updates`);
    let last = offset - 1;
    let clean = true;
    for (const u of answer) {
      const id = (u as { update_id?: unknown } | null)?.update_id;
      if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= last) {
        clean = false;
        break;
      }
      last = id;
    }
    if (clean) {
      if (answer.length > 0) offset = last + 1;
      return answer as Y[];
    }
    const kept: Y[] = [];
    let next = offset;
    for (const u of answer) {
      const id = (u as { update_id?: unknown } | null)?.update_id;
      if (typeof id === "number" && Number.isSafeInteger(id) && id >= next) {
        kept.push(u as Y);
        next = id + 1;
      } else {
        counters.invalid++;
        log(`skipped an invalid, duplicate or out-of-order update: ${show(id)}`);
      }
    }
    if (kept.length === 0)
      throw new Error(`getUpdates answered ${answer.length} updates, none of them usable`);
    warn(`skipped ${answer.length - kept.length} invalid, duplicate or out-of-order updates`);
    offset = next;
    return kept;
  }

  async function confirm(): Promise<void> {
    if (offset <= confirmed) return transport.close();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), CONFIRM_TIMEOUT_MS);
    try {
      counters.getUpdatesCalls++;
      const sent = offset;
      await transport.getUpdates({ offset: sent, limit: 1, timeout: 0 }, controller.signal);
      confirmed = Math.max(confirmed, sent);
      log(`confirmed offset ${sent}`);
    } catch (error) {
      warn(
        `Could not confirm handled updates (${describeError(error)}); Telegram may send them again.`,
      );
    } finally {
      clearTimeout(timer);
      transport.close();
    }
  }

  return {
    fetch,
    confirm,
    close: transport.close,
    init,
    startAt,
    nextOffset: () => offset,
    counters,
    silent,
  };
}

type Fatal = "unauthorized" | "conflict" | "webhook";

/** Reads grammY's error fields (never `instanceof`: the bot may use another grammY copy). */
function classify(error: unknown): Fatal | undefined {
  const e = error as { error_code?: unknown; description?: unknown } | null;
  if (e?.error_code === 401) return "unauthorized";
  if (e?.error_code === 409) {
    return typeof e.description === "string" && /webhook/i.test(e.description)
      ? "webhook"
      : "conflict";
  }
  return undefined;
}

function retryAfterMs(error: unknown): number | undefined {
  const e = error as { error_code?: unknown; parameters?: { retry_after?: unknown } } | null;
  const seconds = e?.parameters?.retry_after;
  if (e?.error_code !== 429 || typeof seconds !== "number" || !(seconds >= 0)) return undefined;
  return seconds * 1000;
}

function fatalError(kind: Fatal, cause: unknown): RunnerError {
  switch (kind) {
    case "unauthorized":
      return new RunnerError(
        "unauthorized",
        "Telegram rejected the bot token (401 Unauthorized): it is wrong or was revoked. Get the current token from @BotFather.",
        { cause },
      );
    case "conflict":
      return new RunnerError(
        "conflict",
        "Another process is fetching updates with this bot token (409 Conflict). Stop the other instance: only one may poll at a time.",
        { cause },
      );
    case "webhook":
      return new RunnerError(
        "webhook_active",
        "A webhook is set for this bot (409 Conflict), so it cannot poll. Delete it with bot.api.deleteWebhook(), or leave runner.deleteWebhook at its default (true).",
        { cause },
      );
  }
}

function botInfoOf(bot: object): UserFromGetMe {
  try {
    return (bot as { botInfo: UserFromGetMe }).botInfo;
  } catch (error) {
    throw new TypeError(`runner.onStart needs bot.botInfo: ${describeError(error)}`);
  }
}

/**
 * Creates a function that fetches the next updates of `bot` every time it is
 * called: it tracks the offset, initialises the bot on the first call, and
 * retries failures with capped, jittered backoff (429 waits `retry_after`).
 * It rejects with a {@link RunnerError} on a wrong token (401), another poller
 * (409) or when failures last longer than `maxRetryTime`.
 *
 * @param bot A grammY bot
 * @param options How to fetch and retry
 * @returns `(batchSize, signal) => Promise<updates>`, usable as an {@link UpdateSupplier}'s `supply`
 *
 * @example
 * ```ts
 * const fetchUpdates = createUpdateFetcher(bot, { fetch: { timeout: 10 } });
 * const controller = new AbortController();
 * const updates = await fetchUpdates(100, controller.signal);
 * ```
 */
export function createUpdateFetcher<Y extends { update_id: number }, R>(
  bot: BotAdapter<Y, R>,
  options?: RunnerOptions,
): (batchSize: number, signal: GrammySignal) => Promise<Y[]> {
  return createFetcher(bot, options).fetch;
}
