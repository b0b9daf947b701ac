import { describeError, logger, redact } from "../util/log.js";
import { sleep } from "../util/timers.js";
import { isFatalRedisError } from "./redis-store.js";

const log = logger("cluster");
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

/**
 * The cluster's view of Redis: whether it answers, the capped backoff between
 * attempts while it does not, and the first error that will not heal.
 *
 * @example
 * ```ts
 * try { await step(); health.ok(); } catch (error) { await health.failed("reading", error, signal); }
 * ```
 */
export class StoreHealth {
  /** Why Redis is unusable now, or `undefined`. */
  error: string | undefined;
  fatal: { error: Error } | undefined;
  private delay = FIRST_DELAY_MS;

  constructor(private readonly silent: boolean) {}

  ok(): void {
    if (this.error === undefined) return;
    log(`Redis answers again after: ${this.error}`);
    this.error = undefined;
    this.delay = FIRST_DELAY_MS;
  }

  /**
   * Records a failed Redis call and waits before the next attempt. Throws a
   * clear error instead if retrying cannot help.
   */
  async failed(what: string, error: unknown, signal: AbortSignal): Promise<void> {
    const detail = describeError(error);
    // The fetcher's own verdicts (a revoked token, another poller) end the run as without a cluster.
    if ((error as Error | undefined)?.name === "RunnerError") {
      this.fatal ??= { error: error as Error };
      throw error;
    }
    if (isFatalRedisError(error)) {
      this.fatal ??= {
        error: new Error(
          redact(
            `The cluster cannot use Redis (${detail}) while ${what}: check the URL, the credentials and that the server is Redis 5 or later with streams.`,
          ),
          { cause: error },
        ),
      };
      throw this.fatal.error;
    }
    if (this.error === undefined && !this.silent)
      console.error(
        `[grammy-runner] Redis failed while ${what} (${redact(detail)}); pausing and retrying.`,
      );
    this.error = detail;
    log(`Redis failed while ${what}: ${detail}; retrying in ${this.delay} ms`);
    await sleep(this.delay, signal);
    this.delay = Math.min(MAX_DELAY_MS, this.delay * 2);
  }
}
