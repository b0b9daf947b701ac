import type { Dispatcher } from "undici";
import {
  checkDuration,
  checkNumber,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";

/**
 * Options of {@link createFetch}. Every duration is in milliseconds.
 *
 * @example
 * ```ts
 * const fetch = createFetch({ connections: 16, connectTimeout: 5_000 });
 * ```
 */
export interface FetchClientOptions {
  /**
   * Most connections kept open per origin (api.telegram.org, a local Bot API
   * server). Calls beyond it wait for a free connection. Integer >= 1 or
   * `Infinity`. Default `32`. One of them is held by a waiting `getUpdates`.
   */
  connections?: number;
  /** Longest wait for a TCP (and TLS) connection to be set up. Default `10_000`. */
  connectTimeout?: number;
  /**
   * How long an idle connection is kept for the next call, unless the server's
   * `Keep-Alive` header asks for less. Default `4_000`.
   */
  keepAliveTimeout?: number;
  /**
   * Longest wait for an answer's headers (and, separately, between two chunks
   * of its body); `0` waits forever. Default `300_000`. Keep it above grammY's
   * `timeoutSeconds` if that is the limit you want, and above the long-polling
   * timeout in any case.
   */
  headersTimeout?: number;
  /**
   * An undici `Dispatcher` to send every call through instead of the pools
   * this client creates, e.g. `new ProxyAgent("http://proxy:3128")` for a proxy,
   * or an `Agent` with TLS options. The other options do not apply to it, and
   * `close()` leaves it open.
   */
  dispatcher?: Dispatcher;
}

/** {@link FetchClientOptions} with the defaults filled in. */
export interface ResolvedOptions {
  connections: number;
  connectTimeout: number;
  keepAliveTimeout: number;
  headersTimeout: number;
  dispatcher: Dispatcher | undefined;
}

const KEYS = [
  "connections",
  "connectTimeout",
  "keepAliveTimeout",
  "headersTimeout",
  "dispatcher",
] as const;

/** Checks the options of `createFetch()`, throwing a TypeError or RangeError naming the option. */
export function resolveOptions(options: FetchClientOptions | undefined): ResolvedOptions {
  const o = optionalObject("options", options);
  rejectUnknownKeys("options", o, KEYS);
  const dispatcher = o.dispatcher;
  if (
    dispatcher !== undefined &&
    typeof (dispatcher as { dispatch?: unknown }).dispatch !== "function"
  )
    throw new TypeError(
      `Option \`options.dispatcher\` must be an undici Dispatcher (with a dispatch() method), but got ${show(dispatcher)}.`,
    );
  return {
    connections:
      o.connections === undefined
        ? 32
        : checkNumber("options.connections", o.connections, { min: 1, integer: true }),
    connectTimeout:
      o.connectTimeout === undefined
        ? 10_000
        : checkDuration("options.connectTimeout", o.connectTimeout),
    keepAliveTimeout:
      o.keepAliveTimeout === undefined
        ? 4_000
        : checkDuration("options.keepAliveTimeout", o.keepAliveTimeout),
    headersTimeout:
      o.headersTimeout === undefined
        ? 300_000
        : checkDuration("options.headersTimeout", o.headersTimeout),
    dispatcher,
  };
}
