import { createClient } from "redis";
import { afterAll, beforeAll } from "vitest";
import type { RedisClient } from "../../src/cluster/redis-options.js";
import { reachable, startRedisServer } from "./redis-server.js";

export { freePort, startRedisServer } from "./redis-server.js";

/**
 * The Redis the cluster tests use: REDIS_URL, else 127.0.0.1:6379, else a
 * redis-server started on a free port for this test file. Never skipped:
 * without any of them the tests fail saying how to get Redis.
 */
export async function redisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (await reachable(6379)) return "redis://127.0.0.1:6379";
  const started = await startRedisServer().catch((error: unknown) => {
    throw new Error(
      `The cluster tests need Redis 6 or later: set REDIS_URL, run one on 127.0.0.1:6379 (e.g. \`apt-get install redis-server\` or \`docker run -p 6379:6379 redis:7\`), or put redis-server on PATH. (${String(error)})`,
    );
  });
  process.once("exit", () => started.process.kill("SIGKILL"));
  return started.url;
}

/** A connected client; the caller closes it. */
export async function connectRedis(url: string): Promise<RedisClient> {
  const client: RedisClient = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** A cluster name no other test run uses. */
export function uniqueName(label: string): string {
  return `test-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes every key of the cluster `name`. */
export async function dropKeys(client: RedisClient, name: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = (await client.sendCommand([
      "SCAN",
      cursor,
      "MATCH",
      `grammy-runner:{${name}}:*`,
      "COUNT",
      "1000",
    ])) as [string, string[]];
    cursor = next;
    if (keys.length > 0) await client.sendCommand(["DEL", ...keys]);
  } while (cursor !== "0");
}

/** The keys of the cluster `name` that exist. */
export async function keysOf(client: RedisClient, name: string): Promise<string[]> {
  return (await client.sendCommand(["KEYS", `grammy-runner:{${name}}:*`])) as string[];
}

/** The test file's Redis: its URL and an admin client, connected before the tests and closed after. */
export function useRedis(): { readonly url: string; readonly admin: RedisClient } {
  const box = {} as { url: string; admin: RedisClient };
  beforeAll(async () => {
    box.url = await redisUrl();
    box.admin = await connectRedis(box.url);
  });
  afterAll(() => box.admin?.destroy());
  return box;
}
