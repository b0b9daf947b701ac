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

const KILLS = quick ? 3 : 10;
const FAILOVER_LEASE_MS = 10_000;

export const clusterFailoverScenario: Scenario = {
  name: "cluster-failover",
  title: `cluster-failover: 3 replica processes, lease ${int(FAILOVER_LEASE_MS)} ms (the default); the leader SIGKILLed ${KILLS} times, one update pushed right after each kill`,
  impls: ["ours"],
  columns: [{ id: "ours", impl: "ours", label: "grammy-runner, 3 replicas" }],
  ratios: [],
  needsServer: true,
  timeoutMs: KILLS * (FAILOVER_LEASE_MS + 15_000) + 30_000,
  job: () => ({
    kind: "cluster",
    mode: "failover",
    replicas: 3,
    leaseMs: FAILOVER_LEASE_MS,
    kills: KILLS,
    updates: 1,
    chats: 1,
    workMs: 0,
  }),
  metrics: [
    metric("kills", "leader kills", int),
    metric("p50", "kill to next update handled, ms p50", int),
    metric("max", "kill to next update handled, ms max", int),
    metric("lease", "lease ms", int),
  ],
  note: `Each kill waits until all 3 replicas hold partitions and one leads, then 1 s; a replacement replica is forked at once. The time runs from the SIGKILL to the pushed update being handled (by whichever replica owns its partition, once a new leader has fetched it). Target: max at most the lease plus 1 s. ${REDIS_NOTE}`,
};

const SCALE_UPDATES = quick ? 1_000 : 4_000;
const SCALE_CHATS = 400;
const SCALE_WORK_MS = 1;

export const clusterScaleScenario: Scenario = {
  name: "cluster-scale",
  title: `cluster-scale: ${int(SCALE_UPDATES)} updates over ${SCALE_CHATS} chats, each ~${SCALE_WORK_MS} ms of synchronous CPU (sha256 rounds), 1 and 2 replica processes of one cluster`,
  impls: ["ours"],
  columns: [
    { id: "ours-1", impl: "ours", label: "grammy-runner ×1" },
    { id: "ours-2", impl: "ours", label: "grammy-runner ×2" },
  ],
  ratios: [{ label: "2 / 1", a: "ours-2", b: "ours-1" }],
  needsServer: true,
  timeoutMs: 120_000,
  job: ({ id }) => ({
    kind: "cluster",
    mode: "scale",
    replicas: id === "ours-2" ? 2 : 1,
    leaseMs: 5_000,
    kills: 0,
    updates: SCALE_UPDATES,
    chats: SCALE_CHATS,
    workMs: SCALE_WORK_MS,
  }),
  metrics: [
    metric("rate", "updates/s", int, true),
    metric("workMs", "handler CPU ms/update (measured)", fixed(2)),
    metric("cores", "handler work done per second (cores' worth)", fixed(2), true),
    metric("cpu", "replicas' CPU µs/update, all processes", fixed(0), true),
    metric("redisCpu", "Redis server CPU µs/update", fixed(1)),
    metric("reads", "XREADGROUP calls/1k updates", fixed(1), true),
    metric("scripts", "script calls/1k updates (writes, acks, leases)", fixed(1), true),
    metric("leaderShare", "updates handled by the leader, %", fixed(0)),
    metric("minShare", "smallest replica's share, %", fixed(0)),
    metric("leastBusy", "least busy replica's event loop, busy %", fixed(0)),
  ],
  note: `The job process calibrates the sha256 rounds of ~${SCALE_WORK_MS} ms once and passes them to the replicas; they handle without replying. The time runs from pushing the backlog (the replicas are long-polling, their partitions settled) to the last update handled. CPU sums the replica processes (process.cpuUsage, reported every 50 ms). Handler CPU is measured around the work in the replicas, so "cores' worth" (handler CPU per second of wall time) compares runs whose calibration differed. Target: 2 / 1 ≥ 1.6 for updates/s on this machine, where the fake server, Redis and the job process share the 2 cores with the replicas. ${REDIS_NOTE}`,
};
