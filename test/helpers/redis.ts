import { type ChildProcess, spawn } from "node:child_process";
import { createServer, Socket } from "node:net";
import { createClient } from "redis";
import { afterAll, beforeAll } from "vitest";
import type { RedisClient } from "../../src/cluster/redis-options.js";

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

/**
 * A redis-server child on a free port; `persistDir` turns on the append-only
 * file there; `extra` are more command-line options.
 */
export async function startRedisServer(
  persistDir?: string,
  port?: number,
  extra: string[] = [],
): Promise<{ url: string; port: number; process: ChildProcess }> {
  const p = port ?? (await freePort());
  const args = ["--port", String(p), "--save", "", "--daemonize", "no", "--bind", "127.0.0.1"];
  args.push(...extra);
  if (persistDir !== undefined)
    args.push("--appendonly", "yes", "--appendfsync", "always", "--dir", persistDir);
  else args.push("--appendonly", "no");
  const child = spawn("redis-server", args, { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    const started = Date.now();
    const poll = async () => {
      if (await reachable(p)) return resolve();
      if (Date.now() - started > 5_000) return reject(new Error("redis-server did not start"));
      setTimeout(poll, 50);
    };
    void poll();
  });
  return { url: `redis://127.0.0.1:${p}`, port: p, process: child };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, "127.0.0.1");
  });
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
