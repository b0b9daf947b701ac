import type { AbortSignal as GrammySignal } from "abort-controller";
import { noop } from "../util/noop.js";
import type { SignalLike } from "../util/timers.js";
import { nodeHttpTransport } from "./node-http.js";

/**
 * How the runner sends `getUpdates`: `"grammy"` (through `bot.api`) or
 * `"node-http"` (a plain `node:http`/`node:https` POST). See `RunnerOptions.transport`.
 */
export type Transport = "grammy" | "node-http";

/** The values `runner.transport` accepts. */
export const TRANSPORTS: readonly Transport[] = ["grammy", "node-http"];

/** What the fetcher sends with every `getUpdates`. */
export interface GetUpdatesParams {
  offset: number;
  limit: number;
  timeout: number;
  allowed_updates?: readonly string[];
}

/** Sends `getUpdates` calls; `close()` frees its connections (it may be used again afterwards). */
export interface UpdatesTransport<Y> {
  getUpdates: (params: GetUpdatesParams, signal: SignalLike) => Promise<Y[]>;
  close: () => void;
}

const DEFAULT_API_ROOT = "https://api.telegram.org";

/** The parts of a grammY bot this module reads; all optional, checked at run time. */
interface BotLike {
  token?: unknown;
  api: {
    getUpdates: (params: never, signal: GrammySignal) => Promise<unknown[]>;
    token?: unknown;
    options?: {
      apiRoot?: unknown;
      environment?: unknown;
      buildUrl?: unknown;
    };
  };
}

/**
 * Creates the getUpdates transport of a fetcher. `"grammy"` calls
 * `bot.api.getUpdates` (looked up on every call); `"node-http"` builds the
 * request URL from the bot's token and client options once, here, so that a
 * bot it cannot serve fails at once.
 */
export function createTransport<Y>(bot: object, kind: Transport): UpdatesTransport<Y> {
  const b = bot as BotLike;
  if (kind === "grammy") {
    return {
      getUpdates: (params, signal) =>
        b.api.getUpdates(params as never, signal as unknown as GrammySignal) as Promise<Y[]>,
      close: noop,
    };
  }
  return nodeHttpTransport<Y>(getUpdatesUrl(b));
}

/**
 * The getUpdates URL the bot's grammY client would use: its `buildUrl` if
 * set, else `<apiRoot>/bot<token>/[test/]getUpdates`. Error messages never
 * show it, as it contains the token.
 */
function getUpdatesUrl(bot: BotLike): URL {
  const token = typeof bot.api.token === "string" ? bot.api.token : bot.token;
  if (typeof token !== "string" || token === "")
    throw new TypeError(
      'Option `runner.transport` "node-http" needs the bot token (`bot.token`), which the given bot lacks.',
    );
  const options = bot.api.options ?? {};
  const root = options.apiRoot ?? DEFAULT_API_ROOT;
  if (typeof root !== "string")
    throw new TypeError(
      'Option `runner.transport` "node-http" needs `client.apiRoot` to be a string URL.',
    );
  const environment = options.environment === "test" ? "test" : "prod";
  let raw: unknown;
  if (typeof options.buildUrl === "function") {
    raw = options.buildUrl(root, token, "getUpdates", environment);
  } else {
    raw = `${root}/bot${token}/${environment === "test" ? "test/" : ""}getUpdates`;
  }
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new TypeError(
      'Option `runner.transport` "node-http" could not build a valid getUpdates URL from the bot\'s `client.apiRoot` (not shown: it contains the token).',
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new TypeError(
      `Option \`runner.transport\` "node-http" needs an http: or https: API root, but the bot's is ${JSON.stringify(url.protocol)}.`,
    );
  return url;
}
