/**
 * A webhook replica in a Redis cluster: its webhook stores every update in
 * the partitioned streams (deduplicated by `update_id` across replicas, in
 * one script call per group of concurrent requests), and it consumes its
 * share of the partitions as the replicas of `run()` do. No replica polls
 * Telegram, so there is no leader.
 */
import type { AbortSignal as GrammySignal } from "abort-controller";
import type { Update } from "grammy/types";
import { hash } from "../util/hash.js";
import { describeError, logger } from "../util/log.js";
import { sleep } from "../util/timers.js";
import type {
  ClusterContext,
  ClusterStats,
  WebhookClusterMember,
  WebhookClusterOptions,
} from "./cluster.js";
import { nextShare, Partitions } from "./partitions.js";
import {
  type Connections,
  claimName,
  closeConnections,
  openConnections,
} from "./redis-connection.js";
import type { ValidClusterOptions } from "./redis-options.js";
import { evalScript, Keys, type RedisLike } from "./redis-store.js";
import { StoreHealth } from "./store-health.js";

const log = logger("cluster");
/** How often a store held back by a full backlog looks again. */
const BACKLOG_POLL_MS = 100;
/** Most updates per script call. */
const MAX_BATCH = 100;

/**
 * Stores webhook updates: skips an update_id the window `seen` (a sorted set
 * scored by update_id) already holds, else adds it there and to its stream;
 * trims the window to its newest ARGV[1] ids (Telegram numbers updates
 * upwards); expires it after 6 days without updates, as the leader's marks.
 * Returns `{flags, total entries in all streams}`.
 * KEYS: seen, streams...; ARGV: window, then (partition, update_id, JSON) triples.
 */
export const STORE_WEBHOOK_UPDATES = `
local window = tonumber(ARGV[1])
local flags = {}
for i = 2, #ARGV, 3 do
  if redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 1], ARGV[i + 1]) == 1 then
    redis.call('XADD', KEYS[2 + tonumber(ARGV[i])], '*', 'u', ARGV[i + 2])
    flags[#flags + 1] = 1
  else
    flags[#flags + 1] = 0
  end
end
local size = redis.call('ZCARD', KEYS[1])
if size > window then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - window - 1) end
redis.call('EXPIRE', KEYS[1], 518400)
local total = 0
for k = 2, #KEYS do total = total + redis.call('XLEN', KEYS[k]) end
return {flags, total}`;

/** The key of the cluster's shared window of stored update_ids. */
export function seenKey(name: string): string {
  return `grammy-runner:{${name}}:seen`;
}

interface Joined<Y extends { update_id: number }> {
  client: RedisLike;
  connections: Connections;
  keys: Keys;
  seen: string;
  partitions: Partitions<Y>;
  beating: Promise<void>;
}

interface Waiting<Y> {
  update: Y;
  resolve: (isNew: boolean) => void;
  reject: (error: unknown) => void;
}

/** See the module comment; created by `redisCluster().joinWebhook()`. */
export class RedisWebhookMember<Y extends { update_id: number }>
  implements WebhookClusterMember<Y>
{
  private joined: Promise<Joined<Y>> | undefined;
  private current: Joined<Y> | undefined;
  private readonly life = new AbortController();
  private readonly health: StoreHealth;
  private readonly replica = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  private waiting: Waiting<Y>[] = [];
  private writing: Promise<void> | undefined;
  private backlog = 0;
  private written = 0;

  constructor(
    private readonly settings: ValidClusterOptions,
    private readonly context: ClusterContext<Y>,
    private readonly options: WebhookClusterOptions,
  ) {
    this.health = new StoreHealth(context.silent);
  }

  async store(updates: readonly Y[], signal: AbortSignal): Promise<boolean[]> {
    const joined = await this.join();
    while (this.backlog > this.settings.maxBacklog) {
      await sleep(BACKLOG_POLL_MS, signal);
      if (signal.aborted) throw new Error("stopped while waiting for room in the streams");
      await this.measureBacklog(joined);
    }
    const stored = updates.map(
      (update) =>
        new Promise<boolean>((resolve, reject) => this.waiting.push({ update, resolve, reject })),
    );
    this.writing ??= this.writeAll(joined);
    return Promise.all(stored);
  }

  async supply(batchSize: number, signal: GrammySignal): Promise<Y[]> {
    const joined = await this.join();
    return nextShare(joined.partitions, this.health, batchSize, signal as AbortSignal);
  }

  settle(update: Y): void {
    this.current?.partitions.settle(update);
  }

  async afterDrain(): Promise<void> {
    const joined = this.current;
    if (joined === undefined) return;
    this.life.abort();
    await joined.beating;
    if (this.health.fatal !== undefined) throw this.health.fatal.error;
    await joined.partitions.flush();
    await joined.partitions.releaseAll();
    log("webhook replica left the cluster");
  }

  async close(): Promise<void> {
    this.life.abort();
    const joined = await this.joined?.catch(() => undefined);
    this.joined = undefined;
    this.current = undefined;
    if (joined === undefined) return;
    await joined.beating;
    joined.partitions.close();
    // Not waiting for stores under way: destroying the client rejects them (answered 503).
    closeConnections(joined.connections, this.settings.client);
  }

  stats(): ClusterStats {
    const partitions = this.current?.partitions;
    return {
      role: "standby",
      partitions: partitions?.owned() ?? [],
      lag: partitions?.lag ?? 0,
      takeovers: 0,
      replayed: partitions?.replayed ?? 0,
      written: this.written,
      storeError: this.health.error,
    };
  }

  private join(): Promise<Joined<Y>> {
    this.joined ??= this.connect().catch((error: unknown) => {
      // The next store or supply tries again.
      this.joined = undefined;
      throw error;
    });
    return this.joined;
  }

  private async connect(): Promise<Joined<Y>> {
    if (this.life.signal.aborted) throw new Error("the webhook replica has stopped");
    const connections = await openConnections(this.settings.client, this.settings.url);
    const { client, reader } = connections;
    await this.context.fetcher.init(this.life.signal as unknown as GrammySignal);
    const botId = this.context.botId();
    const name = this.settings.name ?? String(botId);
    const keys = new Keys(name, this.settings.partitions);
    await claimName(client, keys, botId, this.settings.name);
    const { leaseMs } = this.settings;
    const partitions = new Partitions<Y>(client, reader, keys, this.replica, leaseMs, this.health);
    await partitions.heartbeat();
    const beating = partitions.run(this.life.signal).catch((error: unknown) => {
      log(`the heartbeat ended: ${describeError(error)}`);
    });
    this.current = { client, connections, keys, seen: seenKey(name), partitions, beating };
    log(`webhook replica ${this.replica} joined with ${keys.streams.length} partitions`);
    return this.current;
  }

  /** Writes the waiting updates, up to {@link MAX_BATCH} per script call, until none wait. */
  private async writeAll(joined: Joined<Y>): Promise<void> {
    // One microtask: requests parsed in the same turn share the first call.
    await Promise.resolve();
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      try {
        const flags = await this.write(joined, batch);
        for (const [i, w] of batch.entries()) w.resolve(flags[i] === 1);
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.writing = undefined;
  }

  private async write(joined: Joined<Y>, batch: Waiting<Y>[]): Promise<number[]> {
    const { key, partitions: count } = this.settings;
    const args: (string | number)[] = [this.options.dedupWindow];
    for (const { update } of batch) {
      const k = key(update as unknown as Update);
      args.push(hash(String(k ?? update.update_id)) % count, update.update_id);
      args.push(JSON.stringify(update));
    }
    const [flags, total] = (await evalScript(
      joined.client,
      STORE_WEBHOOK_UPDATES,
      [joined.seen, ...joined.keys.streams],
      args,
    )) as [number[], number];
    this.backlog = total;
    this.written += flags.filter((f) => f === 1).length;
    return flags;
  }

  private async measureBacklog(joined: Joined<Y>): Promise<void> {
    const lengths = await Promise.all(
      joined.keys.streams.map((s) => joined.client.sendCommand(["XLEN", s])),
    );
    this.backlog = lengths.reduce((sum: number, n) => sum + Number(n), 0);
  }
}
