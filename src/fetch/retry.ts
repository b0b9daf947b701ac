import { errorCode, errorDescription, retryAfterSeconds } from "../util/bot-api-error.js";
import { RunnerError } from "../util/errors.js";

/** The first wait of `"exponential"` and `"quadratic"`, and the step of `"quadratic"`. */
const FIRST_RETRY_MS = 100;

/** Growth of the wait between retries, as `runner.retryInterval` takes it. */
export type RetryInterval = "exponential" | "quadratic" | number;

/** When to retry a failed call and when to give up; built from checked options. */
export interface RetryPolicy {
  /** The base of the first wait of a run of failures. */
  readonly firstInterval: number;
  /** The base of the wait after one of `ms`. */
  readonly nextInterval: (ms: number) => number;
  /** The cap on every base wait (a 429's `retry_after` is not capped). */
  readonly maxRetryInterval: number;
  /** How long a run of failures may last before the fetcher gives up. */
  readonly maxRetryTime: number;
}

/** The policy of checked `runner.retryInterval`, `maxRetryInterval` and `maxRetryTime`. */
export function retryPolicy(
  interval: RetryInterval,
  maxRetryInterval: number,
  maxRetryTime: number,
): RetryPolicy {
  const nextInterval =
    interval === "exponential"
      ? (ms: number) => ms * 2
      : interval === "quadratic"
        ? (ms: number) => ms + FIRST_RETRY_MS
        : (ms: number) => ms;
  const firstInterval = typeof interval === "number" ? interval : FIRST_RETRY_MS;
  return { firstInterval, nextInterval, maxRetryInterval, maxRetryTime };
}

/** The waits of one run of failures of one call; a success ends the run. */
export class Backoff {
  private wait: number;
  private failingSince: number | undefined;

  constructor(private readonly policy: RetryPolicy) {
    this.wait = policy.firstInterval;
  }

  /** Notes a failure: the first one starts the `maxRetryTime` clock. */
  failed(): void {
    this.failingSince ??= Date.now();
  }

  /**
   * The wait before trying again after `error`: exactly a 429's
   * `retry_after`, else the current base wait, capped and jittered down to
   * half its length so that many bots do not retry in step.
   *
   * @throws a `retry_time_exceeded` {@link RunnerError} when the run of
   *   failures would last longer than `maxRetryTime` by the end of that wait
   */
  next(error: unknown, what: string, lastError: string | undefined): number {
    const { maxRetryInterval, maxRetryTime, nextInterval } = this.policy;
    const failingSince = this.failingSince ?? Date.now();
    const retryAfter = retryAfterMs(error);
    const delay = retryAfter ?? Math.min(this.wait, maxRetryInterval) * (0.5 + Math.random() / 2);
    if (Date.now() + delay - failingSince > maxRetryTime) {
      throw new RunnerError(
        "retry_time_exceeded",
        `Gave up: ${what} kept failing for ${Math.round((Date.now() - failingSince) / 1000)} s (runner.maxRetryTime is ${maxRetryTime} ms). Last error: ${lastError}`,
        { cause: error },
      );
    }
    if (retryAfter === undefined) this.wait = nextInterval(this.wait);
    return delay;
  }
}

function retryAfterMs(error: unknown): number | undefined {
  const seconds = retryAfterSeconds(error);
  return errorCode(error) === 429 && seconds !== undefined ? seconds * 1000 : undefined;
}

/** An answer that retrying cannot fix. */
export type Fatal = "unauthorized" | "conflict" | "webhook";

/** Whether `error` is an answer that retrying cannot fix, and which. */
export function classify(error: unknown): Fatal | undefined {
  const code = errorCode(error);
  if (code === 401) return "unauthorized";
  if (code === 409) return /webhook/i.test(errorDescription(error) ?? "") ? "webhook" : "conflict";
  return undefined;
}

/** The error the runner ends with on a fatal answer; `cause` is the answer. */
export function fatalError(kind: Fatal, cause: unknown): RunnerError {
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
