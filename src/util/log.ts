import createDebug from "debug";
import { errorCode, errorDescription } from "./bot-api-error.js";

/**
 * Matches what a Telegram bot token looks like (`123456:AA...`), including inside
 * an API URL (`/bot123456:AA.../getUpdates`), so that no message we log or error
 * we create can leak it.
 */
const TOKEN_PATTERN = /\d{3,}:[A-Za-z0-9_-]{20,}/g;

/**
 * How many exact tokens {@link redact} remembers. A process runs a few bots; one
 * that creates bots in a loop forgets the oldest tokens instead of growing.
 */
export const MAX_SECRETS = 32;
/** The exact tokens to hide, oldest first. */
const secrets: string[] = [];
/** The same, longest first, so that a token inside another is not hidden piecemeal. */
let longestFirst: string[] = [];

/**
 * Makes every later {@link redact} hide `token` by its exact value, whatever its
 * shape: a local Bot API server or a test may use tokens the pattern misses.
 * Anything but a non-empty string is ignored.
 */
export function addSecret(token: unknown): void {
  if (typeof token !== "string" || token === "") return;
  const known = secrets.indexOf(token);
  if (known !== -1) secrets.splice(known, 1);
  secrets.push(token);
  if (secrets.length > MAX_SECRETS) secrets.shift();
  longestFirst = [...secrets].sort((a, b) => b.length - a.length);
}

/** Replaces every token given to {@link addSecret} and every token-shaped substring with a fixed marker. */
export function redact(text: string): string {
  let out = text;
  for (const secret of longestFirst) {
    if (out.includes(secret)) out = out.split(secret).join("<token>");
  }
  return out.replace(TOKEN_PATTERN, "<token>");
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
 * One line describing any thrown value, built from the fields of a Bot API
 * error (`error_code`, `description`) where it has them, and from the error
 * grammY wraps in an `HttpError` (`error`), which may quote the request URL.
 */
export function describeError(error: unknown): string {
  if (typeof error !== "object" || error === null) return redact(String(error));
  const code = errorCode(error);
  const description = errorDescription(error);
  const message = description ?? (error as { message?: unknown }).message;
  const parts: string[] = [];
  if (code !== undefined) parts.push(`${code}`);
  parts.push(typeof message === "string" ? message : Object.prototype.toString.call(error));
  const cause = (error as { error?: unknown }).error;
  if (cause instanceof Error && cause.message) parts.push(`(${cause.message})`);
  return redact(parts.join(" "));
}
