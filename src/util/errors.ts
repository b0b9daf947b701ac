import { redact } from "./log.js";

/**
 * Why a runner ended on its own. Lets callers branch without parsing messages.
 *
 * - `unauthorized`: Telegram rejected the token (401).
 * - `conflict`: another process polls with this token (409).
 * - `webhook_active`: a webhook is set and `runner.deleteWebhook` is `false`.
 * - `retry_time_exceeded`: fetching kept failing for longer than `maxRetryTime`.
 *
 * @example
 * ```ts
 * const exitCodes: Record<RunnerErrorCode, number> = {
 *   unauthorized: 78,
 *   conflict: 75,
 *   webhook_active: 75,
 *   retry_time_exceeded: 69,
 * };
 * ```
 */
export type RunnerErrorCode =
  | "unauthorized"
  | "conflict"
  | "webhook_active"
  | "retry_time_exceeded";

/**
 * The error `handle.task()` rejects with when the runner cannot go on. Its
 * message says what to do, with the bot token redacted; `cause` holds the last
 * error from the Bot API as it was thrown.
 *
 * @example
 * ```ts
 * const handle = run(bot);
 * handle.task()?.catch((error) => {
 *   if (error instanceof RunnerError && error.code === "unauthorized") process.exit(78);
 *   throw error;
 * });
 * ```
 */
export class RunnerError extends Error {
  override readonly name = "RunnerError";
  constructor(
    readonly code: RunnerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    // It quotes Bot API errors, whose network errors may quote the request URL.
    super(redact(message), options);
  }
}
