/**
 * Readers for the fields of a failed Bot API call: `error_code`,
 * `description` and `parameters`, as a JSON `ok: false` answer carries them
 * and as grammY copies them onto its `GrammyError`. They read fields, never
 * `instanceof`, because the user's bot may load another copy of grammY than
 * ours, and they accept any thrown value, since anything can be thrown.
 */

/** The Bot API's `parameters` of an error answer (`ResponseParameters`). */
export interface BotApiErrorParameters {
  retry_after?: number;
  migrate_to_chat_id?: number;
}

/** `key` of an object; primitives have none worth reading (a symbol has a `description`). */
function field(value: unknown, key: string): unknown {
  return (typeof value === "object" && value !== null) || typeof value === "function"
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/**
 * The `error_code` of a Bot API error or error answer, if it has a numeric one.
 *
 * @example
 * ```ts
 * errorCode({ ok: false, error_code: 401, description: "Unauthorized" }); // 401
 * errorCode(new Error("socket hang up")); // undefined
 * ```
 */
export function errorCode(error: unknown): number | undefined {
  const code = field(error, "error_code");
  return typeof code === "number" ? code : undefined;
}

/**
 * The `description` of a Bot API error or error answer, if it is a string.
 *
 * @example
 * ```ts
 * errorDescription({ error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active" });
 * ```
 */
export function errorDescription(error: unknown): string | undefined {
  const description = field(error, "description");
  return typeof description === "string" ? description : undefined;
}

/**
 * The `parameters` object of a Bot API error or error answer, if it has one.
 * Its fields are as Telegram sent them: read them with care.
 *
 * @example
 * ```ts
 * errorParameters({ error_code: 429, parameters: { retry_after: 5 } }); // { retry_after: 5 }
 * ```
 */
export function errorParameters(error: unknown): BotApiErrorParameters | undefined {
  const parameters = field(error, "parameters");
  return typeof parameters === "object" && parameters !== null
    ? (parameters as BotApiErrorParameters)
    : undefined;
}

/**
 * `parameters.retry_after` of a Bot API error: how many seconds Telegram asks
 * to wait, if it is a number >= 0. Whatever the `error_code`.
 *
 * @example
 * ```ts
 * retryAfterSeconds({ error_code: 429, parameters: { retry_after: 5 } }); // 5
 * ```
 */
export function retryAfterSeconds(error: unknown): number | undefined {
  const seconds = field(errorParameters(error), "retry_after");
  return typeof seconds === "number" && seconds >= 0 ? seconds : undefined;
}
