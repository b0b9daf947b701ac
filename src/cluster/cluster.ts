/**
 * What `run(bot, { cluster })` drives: the contract between the runner and a
 * cluster implementation. Nothing here loads a store client; the Redis
 * implementation lives behind the `grammy-runner/redis` subpath.
 */
import type { AbortSignal as GrammySignal } from "abort-controller";
import { show } from "../util/options.js";

/**
 * The slice of the runner's fetcher a cluster member uses: only the member
 * that holds the leader lease calls `fetch`.
 *
 * @example
 * ```ts
 * await fetcher.init(signal);
 * fetcher.startAt(storedOffset);
 * const updates = await fetcher.fetch(100, signal, 5); // long poll of at most 5 s
 * ```
 */
export interface ClusterFetcher<Y> {
  /** One getUpdates (with retries); `timeout` lowers its long-poll timeout in seconds. */
  fetch(batchSize: number, signal: GrammySignal, timeout?: number): Promise<Y[]>;
  /** Initialises the bot (`getMe`) unless done. */
  init(signal: GrammySignal): Promise<void>;
  /** Moves the offset of the next getUpdates to `offset`: forward only, unless `rewind`. */
  startAt(offset: number, rewind?: boolean): void;
  /** The offset of the next getUpdates. */
  nextOffset(): number;
  /** Tells Telegram every fetched update is done, unless it already knows. */
  confirm(): Promise<void>;
}

/**
 * What the runner gives a cluster when a replica joins.
 *
 * @example
 * ```ts
 * const member = cluster.join({ fetcher, botId: () => bot.botInfo.id, silent: false });
 * ```
 */
export interface ClusterContext<Y> {
  fetcher: ClusterFetcher<Y>;
  /** The bot's id; valid once `fetcher.init()` has resolved. */
  botId(): number;
  /** Whether to keep warnings off the console (`runner.silent`). */
  silent: boolean;
}

/**
 * Counters of one replica, in `handle.stats().cluster`.
 *
 * @example
 * ```ts
 * const { role, partitions, lag } = handle.stats().cluster ?? {};
 * ```
 */
export interface ClusterStats {
  /** Whether this replica polls Telegram now. */
  role: "leader" | "standby";
  /** The partitions this replica consumes now. */
  partitions: number[];
  /** Updates stored in this replica's partitions and not yet acknowledged. */
  lag: number;
  /** How often this replica became the leader. */
  takeovers: number;
  /** Updates this replica handled again after another replica left them unfinished. */
  replayed: number;
  /** Updates this replica wrote into the streams as the leader. */
  written: number;
  /** Why the store is unreachable now, or `undefined` while it answers. */
  storeError: string | undefined;
}

/**
 * One replica's membership, created by {@link Cluster.join} for a run.
 *
 * @example
 * ```ts
 * const member = cluster.join(context);
 * const batch = await member.supply(100, signal); // this replica's share, replays first
 * for (const update of batch) await bot.handleUpdate(update).finally(() => member.settle(update));
 * await member.afterDrain();
 * await member.close();
 * ```
 */
export interface ClusterMember<Y> {
  /** The next updates this replica should handle, at most `batchSize`; resolves promptly on abort. */
  supply(batchSize: number, signal: GrammySignal): Promise<Y[]>;
  /** The runner is done with `update` (handled, failed or timed out). Must not throw. */
  settle(update: Y): void;
  /** After a clean stop has drained: acknowledge, confirm unless another replica polls, hand the leases over. */
  afterDrain(): Promise<void>;
  /** Ends the membership (also after a failure); leases not released expire. */
  close(): Promise<void>;
  stats(): ClusterStats;
}

/**
 * Replicas of one bot sharing the work: one of them polls Telegram, all of
 * them handle updates. `redisCluster()` from `grammy-runner/redis` is the
 * built-in implementation.
 *
 * @example
 * ```ts
 * import { redisCluster } from "grammy-runner/redis";
 * run(bot, { cluster: redisCluster({ url: process.env.REDIS_URL }) });
 * ```
 */
export interface Cluster {
  join<Y extends { update_id: number }>(context: ClusterContext<Y>): ClusterMember<Y>;
  /**
   * Optional: membership of a webhook replica, for `webhook(bot, { cluster })`.
   * No replica polls Telegram: each one stores the updates its webhook
   * receives and consumes its share of the partitions. `redisCluster()` has it.
   */
  joinWebhook?<Y extends { update_id: number }>(
    context: ClusterContext<Y>,
    options: WebhookClusterOptions,
  ): WebhookClusterMember<Y>;
}

/**
 * How a webhook replica deduplicates, given by `webhook()` to
 * {@link Cluster.joinWebhook}.
 *
 * @example
 * ```ts
 * const member = cluster.joinWebhook?.(context, { dedupWindow: 10_000 });
 * ```
 */
export interface WebhookClusterOptions {
  /** How many recent `update_id`s the cluster remembers, shared by all replicas. */
  dedupWindow: number;
}

/**
 * A webhook replica's membership: a {@link ClusterMember} whose updates come
 * from the cluster's webhooks rather than from a leader's getUpdates.
 *
 * @example
 * ```ts
 * const [isNew] = await member.store([update]); // durable now: answer Telegram 200
 * ```
 */
export interface WebhookClusterMember<Y> extends ClusterMember<Y> {
  /**
   * Stores updates received by a webhook, each in its partition's stream,
   * unless an update with the same `update_id` was stored recently (by any
   * replica). Resolves once stored, with `true` for each update stored now and
   * `false` for a re-send; waits while the streams hold more than the
   * cluster's backlog; rejects if the store fails or `signal` aborts.
   */
  store(updates: readonly Y[], signal: AbortSignal): Promise<boolean[]>;
}

/** Checks the `cluster` option of `run()`. */
export function checkCluster(value: unknown): Cluster {
  const join = (value as { join?: unknown } | null)?.join;
  if (typeof value !== "object" || value === null || typeof join !== "function")
    throw new TypeError(
      `Option \`cluster\` must be a Cluster (an object with a \`join\` function), e.g. redisCluster({ url }), but got ${show(value)}.`,
    );
  return value as Cluster;
}
