/**
 * Opening the cluster's Redis connection and claiming its key space: shared
 * by the polling replicas and the webhook replicas.
 */
import { createClient } from "redis";
import { describeError, logger } from "../util/log.js";
import type { RedisClient } from "./redis-options.js";
import type { Keys } from "./redis-store.js";

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

/** Records which bot uses this name; refuses a name another bot uses. */
export async function claimName(
  client: RedisClient,
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
