import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { AbortSignal as GrammySignal } from "abort-controller";
import { logger, redact } from "../util/log.js";
import type { SignalLike } from "../util/timers.js";

const log = logger("transport");

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

/** How much longer than the long-polling timeout a request may take before it is given up. */
const TIMEOUT_MARGIN_MS = 10_000;
/** Longest timer Node accepts without firing at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_API_ROOT = "https://api.telegram.org";

/**
 * A failed Bot API answer (`ok: false`), with the fields grammY's `GrammyError`
 * has, so that the fetcher classifies it exactly like grammY's errors.
 */
export class BotApiError extends Error {
  override readonly name = "BotApiError";
  readonly ok = false;
  constructor(
    readonly method: string,
    readonly error_code: number,
    readonly description: string,
    readonly parameters: { retry_after?: number; migrate_to_chat_id?: number },
  ) {
    super(redact(`Call to '${method}' failed! (${error_code}: ${description})`));
  }
}

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
      close: () => {},
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

/** The answer of one request, read to its end. */
interface Answer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

function nodeHttpTransport<Y>(url: URL): UpdatesTransport<Y> {
  const secure = url.protocol === "https:";
  const send = secure ? httpsRequest : httpRequest;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? undefined : Number(url.port);
  const path = `${url.pathname}${url.search}`;
  const auth =
    url.username === ""
      ? undefined
      : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  log(`getUpdates is sent with node:${secure ? "https" : "http"} to ${url.host}`);
  /** Created on first use and dropped by `close()`; idle sockets never keep the process alive. */
  let agent: HttpAgent | undefined;

  function post(json: string, timeoutMs: number, signal: SignalLike): Promise<Answer> {
    agent ??= new (secure ? HttpsAgent : HttpAgent)({
      keepAlive: true,
      maxSockets: 2,
      maxFreeSockets: 1,
    });
    const using = agent;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (error: Error | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (error === undefined) resolve(answer as Answer);
        else reject(error);
      };
      const onAbort = () => {
        finish(abortError());
        req.destroy();
      };
      const req = send({
        host,
        port,
        path,
        auth,
        method: "POST",
        agent: using,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(json),
        },
      });
      req.on("error", (error: NodeJS.ErrnoException) => {
        finish(networkError(error));
      });
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          length += chunk.length;
        });
        res.on("error", (error: NodeJS.ErrnoException) => finish(networkError(error)));
        res.on("end", () => {
          finish(undefined, {
            status: res.statusCode ?? 0,
            contentType: res.headers["content-type"],
            body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length),
          });
        });
        res.on("close", () => {
          if (!res.complete)
            finish(new Error("getUpdates failed: the connection closed mid-answer"));
        });
      });
      timer = setTimeout(
        () => {
          finish(new Error(`getUpdates timed out after ${Math.round(timeoutMs / 1000)} s`));
          req.destroy();
        },
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
      signal.addEventListener("abort", onAbort);
      req.end(json);
    });
  }

  async function getUpdates(params: GetUpdatesParams, signal: SignalLike): Promise<Y[]> {
    if (signal.aborted) throw abortError();
    const json = JSON.stringify(params);
    const timeoutMs = Math.max(0, params.timeout) * 1000 + TIMEOUT_MARGIN_MS;
    return resultOf<Y>(await post(json, timeoutMs, signal));
  }

  return {
    getUpdates,
    close() {
      if (agent === undefined) return;
      agent.destroy();
      agent = undefined;
      log("closed the getUpdates connections");
    },
  };
}

/**
 * The `result` of a Bot API answer, or the error it stands for: a JSON
 * `ok: false` answer becomes a {@link BotApiError} (its `error_code` falls back
 * to the HTTP status), anything else that is not `ok: true` a plain `Error`.
 */
function resultOf<Y>({ status, contentType, body }: Answer): Y[] {
  let data: unknown;
  try {
    data = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error(
      `getUpdates answered HTTP ${status} with a body that is not JSON (${redact(String(contentType ?? "no content-type"))}, ${body.length} bytes)`,
    );
  }
  const d = data as {
    ok?: unknown;
    result?: unknown;
    error_code?: unknown;
    description?: unknown;
    parameters?: unknown;
  } | null;
  if (d?.ok === true && status >= 200 && status < 300) return d.result as Y[];
  const code =
    typeof d?.error_code === "number" ? d.error_code : status >= 300 ? status : undefined;
  if (code === undefined)
    throw new Error(`getUpdates answered HTTP ${status} with JSON that is not a Bot API answer`);
  const description =
    typeof d?.description === "string" ? d.description : `HTTP ${status} without a description`;
  const parameters =
    typeof d?.parameters === "object" && d.parameters !== null
      ? (d.parameters as BotApiError["parameters"])
      : {};
  throw new BotApiError("getUpdates", code, description, parameters);
}

function abortError(): Error {
  const error = new Error("getUpdates was aborted");
  error.name = "AbortError";
  return error;
}

/** Node's errors name the host, never the path; redacted all the same. */
function networkError(cause: NodeJS.ErrnoException): Error {
  const error = new Error(
    `getUpdates failed: network error (${redact(cause.message)})`,
  ) as Error & {
    code?: string;
  };
  error.code = cause.code;
  return error;
}
