import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { redact } from "../util/log.js";

/**
 * Why a call made no answer: the error grammY wraps in its `HttpError`
 * (`err.error`). Its message says where the request went (the token
 * replaced by `<token>`) and why it failed, as node-fetch's `FetchError` does;
 * `code` is the system's or undici's error code (`ECONNREFUSED`,
 * `UND_ERR_CONNECT_TIMEOUT`, `UND_ERR_SOCKET`, ...).
 *
 * @example
 * ```ts
 * bot.catch(({ error }) => {
 *   if (error instanceof HttpError) console.error(error.error); // a FetchError
 * });
 * ```
 */
export class FetchError extends Error {
  override readonly name = "FetchError";
  /** `"system"` for network errors, `"aborted"` when the call's signal aborted it, `"invalid-json"` for an answer that is not JSON. */
  readonly type: "system" | "aborted" | "invalid-json";
  readonly code: string | undefined;
  constructor(message: string, type: FetchError["type"], code?: string, cause?: unknown) {
    super(redact(message), cause === undefined ? undefined : { cause });
    this.type = type;
    this.code = code;
  }
}

/**
 * A request URL fit for messages: the path segment after `/bot` (grammY's
 * default `buildUrl`) and anything token-shaped replaced.
 */
export function showUrl(url: string): string {
  return redact(url.replace(/\/bot[^/]*\//, "/bot<token>/"));
}

/** The error of a call its signal aborted (grammY's timeout, `bot.stop()`, a transformer). */
export function abortError(url: string): FetchError {
  return new FetchError(`request to ${showUrl(url)} was aborted`, "aborted", "ABORT_ERR");
}

/** The error of a call that failed in the network or in undici. */
export function networkError(url: string, cause: Error): FetchError {
  const code = (cause as { code?: unknown }).code;
  return new FetchError(
    `request to ${showUrl(url)} failed, reason: ${cause.message}`,
    "system",
    typeof code === "string" ? code : undefined,
    cause,
  );
}

/** Whether an `agent` from `baseFetchConfig` is a node Agent with nothing a pool would lose. */
function isPlainAgent(agent: unknown): boolean {
  if (agent instanceof HttpAgent === false) return false;
  const ctor = (agent as object).constructor;
  if (ctor !== HttpAgent && ctor !== HttpsAgent) return false;
  const options = (agent as { options?: Record<string, unknown> }).options ?? {};
  return Object.keys(options).every((key) => PLAIN_AGENT_OPTIONS.has(key));
}

/** The agent last found plain. */
let lastPlainAgent: unknown;

/** Options of a node Agent that only shape its pooling, which the client does itself. */
const PLAIN_AGENT_OPTIONS = new Set([
  "keepAlive",
  "keepAliveMsecs",
  "maxSockets",
  "maxFreeSockets",
  "maxTotalSockets",
  "scheduling",
  "timeout",
  "noDelay",
  "path",
]);

/**
 * Throws for a `baseFetchConfig` field the client cannot honour. grammY puts
 * its own keep-alive `http(s).Agent` in every call; that one (or any plain
 * Agent) is replaced by the client's pools. A proxy agent, an Agent with TLS
 * options or an agent function cannot be, and must not be dropped silently.
 */
export function checkAgent(agent: unknown): void {
  // grammY passes the same agent in every call: check it once.
  if (agent === undefined || agent === lastPlainAgent) return;
  if (isPlainAgent(agent)) {
    lastPlainAgent = agent;
    return;
  }
  const what =
    typeof agent === "function"
      ? "a function"
      : `a ${(agent as object | null)?.constructor?.name ?? typeof agent}`;
  throw new TypeError(
    `createFetch(): \`client.baseFetchConfig.agent\` is ${what}, which undici cannot use (a node http.Agent subclass such as a proxy agent, or an Agent with TLS options). Remove it and pass an undici dispatcher instead, e.g. createFetch({ dispatcher: new ProxyAgent("http://proxy:3128") }) or createFetch({ dispatcher: new Agent({ connect: { ca } }) }) with ProxyAgent and Agent from "undici".`,
  );
}
