/**
 * The Redis of a cluster job: REDIS_URL if set, else a private redis-server
 * (in memory) started for this bot process, so that its CPU time counts only
 * this run's commands.
 */
import type { ChildProcess } from "node:child_process";
import { createClient } from "redis";
import { startRedisServer } from "../../test/helpers/redis-server.js";

export interface BenchRedis {
  url: string;
  /** User + system CPU of the Redis server so far, µs (shared with others when REDIS_URL is set). */
  cpu(): Promise<number>;
  /** Calls of each command so far, e.g. `{ xreadgroup: 310, evalsha: 222 }` (calls in scripts included). */
  calls(): Promise<Record<string, number>>;
  /** Deletes this process's cluster keys and stops a private server. */
  close(): Promise<void>;
}

export async function benchRedis(): Promise<BenchRedis> {
  let child: ChildProcess | undefined;
  let url = process.env.REDIS_URL || undefined;
  if (url === undefined) {
    const started = await startRedisServer();
    child = started.process;
    url = started.url;
  }
  const admin = createClient({ url });
  await admin.connect();
  return {
    url,
    cpu: async () => {
      const info = String(await admin.sendCommand(["INFO", "cpu"]));
      const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1]);
      return (field("used_cpu_user") + field("used_cpu_sys")) * 1e6;
    },
    calls: async () => {
      const info = String(await admin.sendCommand(["INFO", "commandstats"]));
      const calls: Record<string, number> = {};
      for (const [, name, n] of info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g))
        calls[name] = Number(n);
      return calls;
    },
    close: async () => {
      const keys = (await admin.sendCommand([
        "KEYS",
        `grammy-runner:{bench-${process.pid}*`,
      ])) as string[];
      for (const key of keys) await admin.sendCommand(["DEL", key]);
      admin.destroy();
      child?.kill("SIGKILL");
    },
  };
}

/** A cluster name unique to this bot process, so that `close()` finds its keys. */
export function benchClusterName(label: string): string {
  return `bench-${process.pid}-${label}`;
}
