import type { Readable } from "node:stream";
import { type Dispatcher, Pool } from "undici";
import { logger } from "../util/log.js";
import { abortError, checkAgent, showUrl } from "./errors.js";
import { type FetchClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { type SignalLike, send } from "./request.js";
import type { FetchResponse } from "./response.js";

const log = logger("fetch");

/**
 * The second argument of the fetch function: what grammY passes
 * (`client.baseFetchConfig` spread with `method`, `headers`, `body`, `signal`).
 *
 * @example
 * ```ts
 * const init: FetchInit = { method: "POST", headers: { "content-type": "application/json" }, body: "{}" };
 * ```
 */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  /** A string (grammY's JSON), bytes, or a stream of bytes (grammY's multipart uploads). */
  body?: string | Uint8Array | Readable | AsyncIterable<Uint8Array> | null;
  signal?: SignalLike | null;
  /** grammY's own keep-alive Agent is ignored; a proxy or TLS agent is refused (see {@link createFetch}). */
  agent?: unknown;
  /** Ignored: no compression is asked for, so none is sent. */
  compress?: boolean;
  /** Ignored: request bodies are always streamed. */
  duplex?: "half";
  /** Ignored: connections are always kept alive. */
  keepalive?: boolean;
}

/**
 * The function {@link createFetch} returns: pass it as grammY's `client.fetch`.
 *
 * @example
 * ```ts
 * const fetch: BotApiFetch = createFetch();
 * const bot = new Bot(token, { client: { fetch } });
 * await fetch.close(); // after bot.stop()
 * ```
 */
export interface BotApiFetch {
  (url: string | URL, init?: FetchInit): Promise<FetchResponse>;
  /**
   * Closes the connections once the calls in flight have ended. A later call
   * opens new ones, so a stopped bot can start again.
   */
  close(): Promise<void>;
}

/** Whether the client reads or may ignore this field of `FetchInit`; anything else is refused. */
function isKnownInit(key: string): boolean {
  switch (key) {
    case "method":
    case "headers":
    case "body":
    case "signal":
    case "agent":
    case "compress":
    case "duplex":
    case "keepalive":
      return true;
    default:
      return false;
  }
}
const JSON_HEADERS = ["content-type", "application/json"];

/**
 * A fetch function for grammY built on undici: keep-alive connection pools per
 * origin, every answer read whole into memory once, request bodies (uploads)
 * streamed. Everything grammY does around `fetch` stays: API transformers,
 * `timeoutSeconds`, abort signals, uploads, `HttpError` for network errors.
 *
 * `client.baseFetchConfig.agent` cannot be used by undici: grammY's default
 * keep-alive agent is ignored, a proxy agent or one with TLS options makes
 * every call fail with a TypeError naming the fix (the `dispatcher` option).
 *
 * @example
 * ```ts
 * import { Bot } from "grammy";
 * import { createFetch } from "grammy-runner/fetch";
 *
 * const fetch = createFetch({ connections: 16 });
 * const bot = new Bot(process.env.BOT_TOKEN ?? "", { client: { fetch } });
 * bot.on("message", (ctx) => ctx.reply("hi"));
 * await bot.start();
 * await fetch.close();
 * ```
 */
export function createFetch(options?: FetchClientOptions): BotApiFetch {
  checkUndici();
  const opts = resolveOptions(options);
  const pools = new Pools(opts);
  const fetch = (url: string | URL, init?: FetchInit): Promise<FetchResponse> => {
    const href = typeof url === "string" ? url : url instanceof URL ? url.href : undefined;
    if (href === undefined)
      return Promise.reject(new TypeError(`createFetch(): the URL must be a string or a URL.`));
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortError(href));
    try {
      const request = requestOptions(init);
      return send(pools.route(href, request), request, href, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return Object.assign(fetch, { close: () => pools.close() });
}

/**
 * undici's options for one request, after checking what grammY (or the caller)
 * passed; `origin` and `path` are filled in by {@link Pools.route}.
 */
function requestOptions(init: FetchInit | undefined): Dispatcher.DispatchOptions {
  if (init === undefined) return { origin: "", path: "", method: "GET" };
  for (const key in init) {
    if (!isKnownInit(key))
      throw new TypeError(
        `createFetch(): \`${key}\` in the fetch options (grammY's \`client.baseFetchConfig\`) cannot be honoured; remove it. Timeouts: grammY's \`client.timeoutSeconds\` or createFetch({ headersTimeout }).`,
      );
  }
  checkAgent(init.agent);
  const body = init.body ?? null;
  return {
    origin: "",
    path: "",
    method: init.method ?? "GET",
    headers: headersOf(init.headers),
    body: body as Dispatcher.DispatchOptions["body"],
  };
}

/**
 * The headers as undici's flat array. grammY's JSON calls all carry the same
 * one, whose array is shared (no copy, no lower-casing); `connection` is left
 * to the pool.
 */
function headersOf(headers: Record<string, string> | undefined): string[] | undefined {
  let out: string[] | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isConnection(name)) continue;
    if (out === undefined && name === "content-type" && value === "application/json") {
      out = JSON_HEADERS;
      continue;
    }
    if (out === JSON_HEADERS) out = [...JSON_HEADERS];
    out ??= [];
    out.push(name, String(value));
  }
  return out;
}

function isConnection(name: string): boolean {
  return name.length === 10 && name.toLowerCase() === "connection";
}

/** The pools of one client, one per origin, created on first use. */
class Pools {
  private readonly byOrigin = new Map<string, Pool>();
  /** The last origin routed, to skip the map lookup when one bot calls one server. */
  private lastOrigin = "";
  private lastPool: Dispatcher | undefined;

  constructor(private readonly opts: ResolvedOptions) {}

  /** The dispatcher for `url`; sets `request.origin` and `request.path`. */
  route(url: string, request: Dispatcher.DispatchOptions): Dispatcher {
    const last = this.lastOrigin;
    if (this.lastPool !== undefined && url.startsWith(last) && url.charCodeAt(last.length) === 47) {
      request.origin = last;
      request.path = url.slice(last.length);
      return this.lastPool;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`createFetch(): invalid URL ${showUrl(url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new TypeError(
        `createFetch(): only http: and https: URLs can be fetched, not ${showUrl(url)}`,
      );
    const { origin } = parsed;
    const path = `${parsed.pathname}${parsed.search}`;
    const dispatcher = this.opts.dispatcher ?? this.pool(origin);
    // Only a URL that is exactly origin + path can take the fast route next time.
    if (url === origin + path) {
      this.lastOrigin = origin;
      this.lastPool = dispatcher;
    }
    request.origin = origin;
    request.path = path;
    return dispatcher;
  }

  private pool(origin: string): Pool {
    let pool = this.byOrigin.get(origin);
    if (pool === undefined) {
      const { connections, connectTimeout, keepAliveTimeout, headersTimeout } = this.opts;
      pool = new Pool(origin, {
        connections: Number.isFinite(connections) ? connections : null,
        connect: { timeout: connectTimeout },
        keepAliveTimeout,
        headersTimeout,
        bodyTimeout: headersTimeout,
      });
      this.byOrigin.set(origin, pool);
      log(`opened a pool of up to ${connections} connections to ${origin}`);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.byOrigin.values()];
    this.byOrigin.clear();
    this.lastOrigin = "";
    this.lastPool = undefined;
    await Promise.all(pools.map((pool) => pool.close()));
    if (pools.length > 0) log(`closed ${pools.length} pool(s)`);
  }
}

/**
 * Bun answers `import "undici"` with a built-in stand-in whose pools cannot
 * dispatch, so every call would fail; say so once, at creation.
 */
function checkUndici(): void {
  if (typeof Pool.prototype.dispatch !== "function")
    throw new TypeError(
      "createFetch() needs the undici package's Pool.dispatch, which this runtime's `undici` module lacks (Bun provides its own). Use grammY's default client here: new Bot(token) without `client.fetch`.",
    );
}
