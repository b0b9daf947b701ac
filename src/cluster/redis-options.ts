import type { Update } from "grammy/types";
import type { createClient } from "redis";
import {
  checkFunction,
  checkNumber,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";

/** A node-redis client, as `createClient()` returns it. */
export type RedisClient = ReturnType<typeof createClient>;

/**
 * Options of `redisCluster()`.
 *
 * @example
 * ```ts
 * redisCluster({
 *   url: "redis://:secret@redis.internal:6379",
 *   partitions: 32,
 *   leaseMilliseconds: 5_000,
 *   key: (update) => update.message?.chat.id,
 * });
 * ```
 */
export interface RedisClusterOptions {
  /** `redis://` or `rediss://` URL of the Redis server. Give this or `client`. */
  url?: string;
  /** A connected node-redis client to use instead of `url`; it is not closed on stop. */
  client?: RedisClient;
  /**
   * Names the cluster's keys (`grammy-runner:{<name>}:…`). Default: the bot
   * id, so two bots can share a Redis. A name already used by another bot is
   * refused.
   */
  name?: string;
  /**
   * Number of streams the updates are spread over, by key: the most replicas
   * that can share the work. Every replica must use the same number. An
   * integer from 1 to 1024. Default: 16.
   */
  partitions?: number;
  /**
   * How long a lease lasts without renewal: a dead leader is replaced, and a
   * dead replica's partitions move, within about this time. From 500. Default: 10,000.
   */
  leaseMilliseconds?: number;
  /**
   * The leader stops fetching while the streams hold more unhandled updates
   * than this, which bounds Redis' memory under a flood. Default: 10,000.
   */
  maxBacklog?: number;
  /**
   * The partition key of an update: updates with the same key are handled by
   * one replica at a time, in order. Default: the chat id, else the user id,
   * else the update_id (spread freely).
   */
  key?: (update: Update) => string | number | undefined;
}

export interface ValidClusterOptions {
  url: string | undefined;
  client: RedisClient | undefined;
  name: string | undefined;
  partitions: number;
  leaseMs: number;
  maxBacklog: number;
  key: (update: Update) => string | number | undefined;
}

const KEYS = [
  "url",
  "client",
  "name",
  "partitions",
  "leaseMilliseconds",
  "maxBacklog",
  "key",
] as const;

/** Validates the options of `redisCluster()`, naming the option at fault. */
export function validateClusterOptions(
  options: RedisClusterOptions | undefined,
): ValidClusterOptions {
  const opts = optionalObject("options", options);
  rejectUnknownKeys("", opts, KEYS);
  if ((opts.url === undefined) === (opts.client === undefined))
    throw new TypeError(
      `redisCluster() needs exactly one of \`url\` (e.g. "redis://127.0.0.1:6379") and \`client\` (a node-redis client), but got ${opts.url === undefined ? "neither (is REDIS_URL set?)" : "both"}.`,
    );
  if (opts.url !== undefined) checkUrl(opts.url);
  const client = opts.client;
  if (
    client !== undefined &&
    typeof (client as { sendCommand?: unknown }).sendCommand !== "function"
  )
    throw new TypeError(
      `Option \`client\` must be a node-redis client (from createClient()), but got ${show(client)}.`,
    );
  if (
    opts.name !== undefined &&
    (typeof opts.name !== "string" || !/^[\w.:-]{1,100}$/.test(opts.name))
  )
    throw new TypeError(
      `Option \`name\` must be 1-100 letters, digits or _ . : -, but got ${show(opts.name)}.`,
    );
  return {
    url: opts.url,
    client,
    name: opts.name,
    partitions: checkNumber("partitions", opts.partitions ?? 16, {
      min: 1,
      max: 1024,
      integer: true,
    }),
    leaseMs: checkNumber("leaseMilliseconds", opts.leaseMilliseconds ?? 10_000, {
      min: 500,
      max: 600_000,
      integer: true,
    }),
    maxBacklog: checkNumber("maxBacklog", opts.maxBacklog ?? 10_000, { min: 100, integer: true }),
    key: opts.key === undefined ? defaultKey : checkFunction("key", opts.key),
  };
}

function checkUrl(url: unknown): void {
  let protocol: string | undefined;
  try {
    protocol = typeof url === "string" ? new URL(url).protocol : undefined;
  } catch {
    protocol = undefined;
  }
  if (protocol !== "redis:" && protocol !== "rediss:")
    throw new TypeError(
      `Option \`url\` must be a redis:// or rediss:// URL, e.g. "redis://127.0.0.1:6379", but got ${typeof url === "string" ? "a string that is not one" : show(url)}.`,
    );
}

/** The chat of an update, else its user; `undefined` spreads it by update_id. */
function defaultKey(update: Update): string | number | undefined {
  for (const [field, value] of Object.entries(update)) {
    if (field === "update_id" || typeof value !== "object" || value === null) continue;
    const payload = value as {
      chat?: { id?: unknown };
      message?: { chat?: { id?: unknown } };
      from?: { id?: unknown };
      user?: { id?: unknown };
    };
    const id =
      payload.chat?.id ?? payload.message?.chat?.id ?? payload.from?.id ?? payload.user?.id;
    return typeof id === "number" || typeof id === "string" ? id : undefined;
  }
  return undefined;
}
