import type { AbortSignal as GrammySignal } from "abort-controller";
import type { Update } from "grammy/types";
import { hash } from "../util/hash.js";
import { describeError, logger } from "../util/log.js";
import type {
  Cluster,
  ClusterContext,
  ClusterMember,
  ClusterStats,
  WebhookClusterOptions,
} from "./cluster.js";
import { Leadership } from "./leader.js";
import { nextShare, Partitions } from "./partitions.js";
import {
  type Connections,
  claimName,
  closeConnections,
  openConnections,
} from "./redis-connection.js";
import {
  type RedisClusterOptions,
  type ValidClusterOptions,
  validateClusterOptions,
} from "./redis-options.js";
import { isFatalRedisError, Keys } from "./redis-store.js";
import { StoreHealth } from "./store-health.js";
import { RedisWebhookMember } from "./webhook-member.js";

const log = logger("cluster");

/**
 * A cluster of replicas of one bot on Redis, for `run(bot, { cluster })`.
 * Every replica runs the same code; they elect one leader, which alone polls
 * Telegram and stores every batch in Redis Streams (fenced by its lease token)
 * before confirming it. The updates are spread over `partitions` streams by
 * chat, and each partition is consumed by one live replica at a time, through
 * that replica's sink, in order. An update is acknowledged when its handler
 * settles; a dead replica's unacknowledged updates are handled again first by
 * the replica that takes its partitions, with `isReplayed(ctx.update)` true.
 * See docs/cluster.md.
 *
 * @param options The Redis server (`url` or `client`) and the cluster's shape
 * @returns The `cluster` option of `run()`
 *
 * @example
 * ```ts
 * import { Bot } from "grammy";
 * import { run, sequentialize } from "grammy-runner";
 * import { redisCluster } from "grammy-runner/redis";
 *
 * const bot = new Bot(process.env.BOT_TOKEN ?? "");
 * bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
 * bot.on("message", (ctx) => ctx.reply("Hi from one of the replicas"));
 * const handle = run(bot, { cluster: redisCluster({ url: process.env.REDIS_URL }) });
 * process.once("SIGTERM", () => handle.stop());
 * ```
 */
export function redisCluster(options: RedisClusterOptions): Cluster {
  const settings = validateClusterOptions(options);
  return {
    join: <Y extends { update_id: number }>(context: ClusterContext<Y>) =>
      new RedisMember<Y>(settings, context),
    joinWebhook: <Y extends { update_id: number }>(
      context: ClusterContext<Y>,
      webhook: WebhookClusterOptions,
    ) => new RedisWebhookMember<Y>(settings, context, webhook),
  };
}

/** What a replica holds once connected and registered. */
interface Joined<Y extends { update_id: number }> {
  connections: Connections;
  partitions: Partitions<Y>;
  leader: Leadership<Y>;
  polling: Promise<void>;
  beating: Promise<void>;
}

class RedisMember<Y extends { update_id: number }> implements ClusterMember<Y> {
  private joined: Promise<Joined<Y>> | undefined;
  private watched: GrammySignal | undefined;
  private current: Joined<Y> | undefined;
  private pollLife = new AbortController();
  private beatLife = new AbortController();
  private readonly health: StoreHealth;
  private readonly replica = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

  constructor(
    private readonly settings: ValidClusterOptions,
    private readonly context: ClusterContext<Y>,
  ) {
    this.health = new StoreHealth(context.silent);
  }

  async supply(batchSize: number, signal: GrammySignal): Promise<Y[]> {
    if (signal !== this.watched) {
      // The runner's stop ends polling at once; partitions are kept until drained.
      this.watched = signal;
      const polling = this.pollLife;
      signal.addEventListener("abort", () => polling.abort());
    }
    this.joined ??= this.join(signal).catch(async (error: unknown) => {
      // Throws the clear message (e.g. a server without streams) instead of Redis' own.
      if (isFatalRedisError(error))
        await this.health.failed("joining the cluster", error, signal as AbortSignal);
      throw error;
    });
    const joined = await this.joined;
    return nextShare(joined.partitions, this.health, batchSize, signal as AbortSignal);
  }

  settle(update: Y): void {
    this.current?.partitions.settle(update);
  }

  async afterDrain(): Promise<void> {
    const joined = this.current;
    if (joined === undefined) return;
    this.pollLife.abort();
    await joined.polling;
    this.beatLife.abort();
    await joined.beating;
    if (this.health.fatal !== undefined) throw this.health.fatal.error;
    await joined.partitions.flush();
    await joined.leader.handOver();
    await joined.partitions.releaseAll();
    log("left the cluster");
  }

  async close(): Promise<void> {
    this.pollLife.abort();
    this.beatLife.abort();
    const joining = this.joined;
    this.joined = undefined;
    this.current = undefined;
    const joined = await joining?.catch(() => undefined);
    if (joined !== undefined) {
      joined.leader.stopRenewing();
      await Promise.all([joined.polling, joined.beating]);
      joined.partitions.close();
      closeConnections(joined.connections, this.settings.client);
    }
    this.pollLife = new AbortController();
    this.beatLife = new AbortController();
  }

  stats(): ClusterStats {
    const joined = this.current;
    return {
      role: joined?.leader.isLeader() ? "leader" : "standby",
      partitions: joined?.partitions.owned() ?? [],
      lag: joined?.partitions.lag ?? 0,
      takeovers: joined?.leader.takeovers ?? 0,
      replayed: joined?.partitions.replayed ?? 0,
      written: joined?.leader.written ?? 0,
      storeError: this.health.error,
    };
  }

  private async join(signal: GrammySignal): Promise<Joined<Y>> {
    const connections = await openConnections(this.settings.client, this.settings.url);
    const { client, reader } = connections;
    await this.context.fetcher.init(signal);
    const botId = this.context.botId();
    const keys = new Keys(this.settings.name ?? String(botId), this.settings.partitions);
    await claimName(client, keys, botId, this.settings.name);
    const { leaseMs, maxBacklog, partitions: count, key } = this.settings;
    const partitions = new Partitions<Y>(client, reader, keys, this.replica, leaseMs, this.health);
    await partitions.heartbeat();
    const placement = {
      partitionOf: (update: Y) => {
        const k = key(update as unknown as Update);
        return hash(String(k ?? update.update_id)) % count;
      },
    };
    const leader = new Leadership<Y>(
      client,
      keys,
      this.context.fetcher,
      placement,
      {
        replica: this.replica,
        leaseMs,
        maxBacklog,
      },
      this.health,
    );
    const ended = (what: string) => (error: unknown) => {
      log(`${what} ended: ${describeError(error)}`);
    };
    const joined: Joined<Y> = {
      connections,
      partitions,
      leader,
      polling: leader.run(this.pollLife.signal).catch(ended("polling")),
      beating: partitions.run(this.beatLife.signal).catch(ended("the heartbeat")),
    };
    this.current = joined;
    log(`replica ${this.replica} joined with ${count} partitions`);
    return joined;
  }
}
