/**
 * cluster-*: run(bot, { cluster: redisCluster() }) against plain run(). The
 * overhead scenarios are the throughput job with one replica; the failover
 * and scale ones fork replica processes (see jobs/cluster.ts).
 */
import { options } from "../args.js";
import { fixed, int, type MetricDef, metric, type Scenario } from "./scenario.js";
import { CHATS, THROUGHPUT_METRICS, UPDATES } from "./throughput.js";

const { quick } = options;

const REDIS_NOTE =
  "Redis is a private in-memory redis-server started by each bot process (REDIS_URL, if set, is used instead; its CPU then includes whatever else uses it).";

const OVERHEAD_METRICS: MetricDef[] = [
  ...THROUGHPUT_METRICS,
  metric("wallPerUpdate", "wall µs/update", fixed(2), true),
  metric("redisCpu", "Redis server CPU µs/update", fixed(1)),
];

export function clusterOverheadScenario(delayMs: number): Scenario {
  const name = `cluster-overhead-${delayMs === 0 ? "noop" : `${delayMs}ms`}`;
  const handler = delayMs === 0 ? "no-op handler" : `handler awaits ${delayMs} ms`;
  return {
    name,
    title: `${name}: ${int(UPDATES)} updates over ${int(CHATS)} chats, ${handler}; grammy-runner run() alone and as the only replica of redisCluster() (16 partitions)`,
    impls: ["ours"],
    columns: [
      { id: "ours", impl: "ours", label: "grammy-runner" },
      { id: "ours-cluster", impl: "ours", label: "grammy-runner, 1-replica cluster" },
    ],
    ratios: [{ label: "cluster / plain", a: "ours-cluster", b: "ours" }],
    needsServer: true,
    timeoutMs: quick ? 45_000 : 90_000,
    job: ({ id }) => ({
      kind: "throughput",
      updates: UPDATES,
      chats: CHATS,
      delayMs,
      seq: false,
      cluster: id === "ours-cluster",
    }),
    metrics: OVERHEAD_METRICS,
    note: `Timed from the first getUpdates to the last handler done, the backlog waiting on the server. In the cluster, every batch goes through Redis Streams (one fenced script call per fetched batch, reads with XREADGROUP, acknowledgements batched) before a handler sees it. ${REDIS_NOTE} Bot CPU is the bot process only; add the Redis column for the cluster's whole cost.`,
  };
}
