/**
 * Opening the cluster's Redis connection and claiming its key space: shared
 * by the polling replicas and the webhook replicas.
 */
import { createClient } from "redis";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { DeadlineRedis } from "./redis-deadline.js";
import type { RedisClient } from "./redis-options.js";
import type { Keys, RedisLike } from "./redis-store.js";

const log = logger("cluster");

/**
 * Connects to `url`, failing at once if the first connection fails (a wrong
 * host or port is not worth waiting for) and reconnecting with a capped
 * backoff after a connection that worked is lost.
 */
export async function connect(url: string): Promise<RedisClient> {
  let ready = false;
  const client: RedisClient = createClient({
    url,
    socket: {
      connectTimeout: 5_000,
      reconnectStrategy: (retries, cause) =>
        ready
          ? Math.min(100 * 2 ** retries, 2_000)
          : new Error(`Could not connect to Redis: ${cause.message}`),
    },
  });
  client.on("error", (error: unknown) => log(`Redis connection: ${describeError(error)}`));
  client.on("ready", () => {
    ready = true;
  });
  await client.connect();
  return client;
}

/** A replica's two connections: `client` for short calls, `reader` for blocking reads. */
export interface Connections {
  client: DeadlineRedis;
  reader: DeadlineRedis;
}

/**
 * Opens the replica's connections, both behind a deadline: the user's
 * `client` if given (never closed or replaced by us), else one to `url`; the
 * reader is always a duplicate of ours to make.
 *
 * @example
 * ```ts
 * const { client, reader } = await openConnections(undefined, "redis://127.0.0.1:6379");
 * ```
 */
export async function openConnections(
  given: RedisClient | undefined,
  url: string | undefined,
): Promise<Connections> {
  const client = given ?? (await connect(url ?? ""));
  const reader = client.duplicate();
  reader.on("error", noop);
  await reader.connect();
  return {
    client: new DeadlineRedis(client, given === undefined),
    reader: new DeadlineRedis(reader, true),
  };
}

/** Closes what {@link openConnections} opened; calls under way reject. */
export function closeConnections(connections: Connections, given: RedisClient | undefined): void {
  connections.reader.destroy();
  if (given === undefined) connections.client.destroy();
}

/** Records which bot uses this name; refuses a name another bot uses. */
export async function claimName(
  client: RedisLike,
  keys: Keys,
  botId: number,
  name: string | undefined,
): Promise<void> {
  await client.sendCommand(["SET", keys.bot, String(botId), "NX"]);
  const owner = (await client.sendCommand(["GET", keys.bot])) as unknown;
  if (owner !== String(botId))
    throw new Error(
      `The cluster name ${JSON.stringify(name)} is used by bot ${String(owner)} in this Redis; give each bot its own \`name\` (or none: the bot id is the default).`,
    );
}
