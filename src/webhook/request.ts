/**
 * One webhook request as the handle sees it, whatever the framework, and the
 * checks it passes before its update may reach the bot: method, secret, body
 * size, JSON and `update_id`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isUpdateId } from "../util/update-id.js";

/** The header Telegram sends the `secret_token` of `setWebhook` in. */
export const SECRET_HEADER = "x-telegram-bot-api-secret-token";

/**
 * A webhook request, read through an adapter. Build one to plug a framework
 * that has no adapter into {@link WebhookHandle.receive}.
 *
 * @example
 * ```ts
 * const answer = await handle.receive({
 *   method: request.method,
 *   secret: request.headers.get("x-telegram-bot-api-secret-token") ?? undefined,
 *   body: () => request.text(),
 * });
 * return new Response(answer.body, { status: answer.status, headers: answer.headers });
 * ```
 */
export interface IncomingWebhook {
  /** The HTTP method, e.g. `"POST"`. */
  method: string | undefined;
  /** The `X-Telegram-Bot-Api-Secret-Token` header, if any. */
  secret: string | undefined;
  /**
   * Reads the body: the raw bytes or text, or the value a framework already
   * parsed from JSON. Called only once method and secret passed. Rejects
   * with a {@link BodyTooLargeError} for a body over the limit.
   */
  body: (maxBytes: number) => Promise<unknown>;
}

/**
 * What to answer a webhook request with.
 *
 * @example
 * ```ts
 * const { status, body, headers } = await handle.receive(incoming);
 * res.writeHead(status, headers).end(body);
 * ```
 */
export interface WebhookAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/**
 * The body of a webhook request exceeded `maxBodySize`.
 *
 * @example
 * ```ts
 * if (bytes > maxBytes) throw new BodyTooLargeError(maxBytes);
 * ```
 */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly maxBytes: number) {
    super(`The request body exceeds ${maxBytes} bytes`);
  }
}

/** Builds an answer; every answer is a small JSON text. */
export function answer(
  status: number,
  description: string,
  headers: Record<string, string> = {},
): WebhookAnswer {
  return {
    status,
    body: JSON.stringify(status < 300 ? { ok: true } : { ok: false, description }),
    headers: { "content-type": "application/json", ...headers },
  };
}

/**
 * Compares a request's secret with the expected one in time that does not
 * depend on where they differ nor on the expected secret's length: both are
 * hashed first, so the compared buffers always have the same length.
 */
export function secretChecker(
  expected: string | undefined,
): (given: string | undefined) => boolean {
  if (expected === undefined) return () => true;
  const wanted = digest(expected);
  return (given) => timingSafeEqual(digest(given ?? ""), wanted);
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * The update in a request body, or a description of why there is none.
 * Accepts bytes, text or a value a framework already parsed.
 */
export function parseUpdate(body: unknown): { update: { update_id: number } } | { error: string } {
  let value = body;
  if (typeof body === "string" || body instanceof Uint8Array) {
    const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
    try {
      value = JSON.parse(text);
    } catch {
      return { error: "Bad Request: the body is not JSON" };
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { error: "Bad Request: the body is not a JSON object" };
  if (!isUpdateId((value as { update_id?: unknown }).update_id))
    return { error: "Bad Request: the update has no integer update_id" };
  return { update: value as { update_id: number } };
}
