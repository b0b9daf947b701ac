import createDebug from "debug";

/**
 * Matches what a Telegram bot token looks like (`123456:AA...`), including inside
 * an API URL (`/bot123456:AA.../getUpdates`), so that no message we log or error
 * we create can leak it.
 */
const TOKEN_PATTERN = /\d{3,}:[A-Za-z0-9_-]{20,}/g;

/** Replaces every token-shaped substring with a fixed marker. */
export function redact(text: string): string {
  return text.replace(TOKEN_PATTERN, "<token>");
}

/**
 * A `debug` logger in the `grammy-runner:` namespace whose messages are redacted.
 * Enable with `DEBUG=grammy-runner:*`.
 */
export function logger(name: string): (message: string) => void {
  const debug = createDebug(`grammy-runner:${name}`);
  return (message) => {
    // "%s": the message is data; a "%o" in an error text is not a format directive.
    if (debug.enabled) debug("%s", redact(message));
  };
}

/**
 * One line describing any thrown value, built from the fields grammY puts on its
 * errors (`error_code`, `description`) rather than from `instanceof`, because
 * the user's bot may load another copy of grammY than ours.
 */
export function describeError(error: unknown): string {
  if (typeof error !== "object" || error === null) return redact(String(error));
  const e = error as { error_code?: unknown; description?: unknown; message?: unknown };
  const parts: string[] = [];
  if (typeof e.error_code === "number") parts.push(`${e.error_code}`);
  if (typeof e.description === "string") parts.push(e.description);
  else if (typeof e.message === "string") parts.push(e.message);
  else parts.push(Object.prototype.toString.call(error));
  const cause = (error as { error?: unknown }).error;
  if (cause instanceof Error && cause.message) parts.push(`(${cause.message})`);
  return redact(parts.join(" "));
}
