/**
 * `grammy-runner/redis`: replicas of one bot on many machines, coordinated
 * through Redis. Needs the `redis` package (node-redis) installed; the main
 * entry never loads it.
 */
export { redisCluster } from "../cluster/redis-cluster.js";
export type { RedisClient, RedisClusterOptions } from "../cluster/redis-options.js";
