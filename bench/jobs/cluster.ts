/**
 * cluster-failover and cluster-scale: replica processes (cluster-replica.ts)
 * forked by this bot process, one fake server, a private Redis.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { ReplicaReport } from "../cluster-replica.js";
import { calibrate } from "../cpu-work.js";
import type { JobOf, Metrics, ServerAddress } from "../protocol.js";
import { type BenchRedis, benchClusterName, benchRedis } from "./redis.js";
import { server } from "./rpc.js";

/** A forked replica and its last report (kept after it dies). */
interface Replica {
  child: ChildProcess;
  last: ReplicaReport;
  /** Its report when the measured span started. */
  start?: ReplicaReport;
}

const EMPTY: ReplicaReport = {
  role: "standby",
  partitions: 0,
  handled: 0,
  replayed: 0,
  cpu: 0,
  work: 0,
  active: 0,
  idle: 0,
};
const here = fileURLToPath(new URL(".", import.meta.url));

function fork1(env: Record<string, string>): Replica {
  // Built next to bot.mjs in bench/.out/.
  const child = fork(join(here, "cluster-replica.mjs"), [], { env: { ...process.env, ...env } });
  const replica: Replica = { child, last: EMPTY };
  child.on("message", (report: ReplicaReport) => {
    replica.last = report;
  });
  return replica;
}

async function until(predicate: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

async function stopAll(replicas: Replica[]): Promise<void> {
  await Promise.all(
    replicas.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.send("stop");
        }),
    ),
  );
}

const handledBy = (replicas: Replica[]): number => replicas.reduce((n, r) => n + r.last.handled, 0);
const ready = (replicas: Replica[]): boolean =>
  replicas.every((r) => r.last.partitions > 0) && replicas.some((r) => r.last.role === "leader");

export async function clusterJob(
  job: JobOf<"cluster">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  if (srv === undefined) throw new Error("this job needs the fake server");
  const redis = await benchRedis();
  const env = {
    BENCH_API: srv.url,
    BENCH_TOKEN: srv.token,
    BENCH_REDIS: redis.url,
    BENCH_NAME: benchClusterName(job.mode),
    BENCH_LEASE: String(job.leaseMs),
  };
  const replicas: Replica[] = [];
  try {
    if (job.mode === "failover") return await failover(job, env, replicas);
    return await scale(
      job,
      { ...env, BENCH_ROUNDS: String(calibrate(job.workMs)) },
      replicas,
      redis,
    );
  } finally {
    await stopAll(replicas);
    for (const r of replicas) r.child.kill("SIGKILL");
    await redis.close();
  }
}

/** SIGKILLs the leader `kills` times; each time, the wait for the next update to be handled. */
async function failover(
  job: JobOf<"cluster">,
  env: Record<string, string>,
  replicas: Replica[],
): Promise<Metrics> {
  const live = [fork1(env), fork1(env), fork1(env)];
  replicas.push(...live);
  const times: number[] = [];
  for (let k = 0; k < job.kills; k++) {
    await until(() => ready(live), "3 replicas with partitions and a leader");
    await delay(1_000);
    const index = live.findIndex((r) => r.last.role === "leader");
    const before = handledBy(replicas);
    const killedAt = performance.now();
    live[index].child.kill("SIGKILL");
    await server({ cmd: "pushMessages", count: 1, chats: 1, firstChatId: 1 + k });
    live[index] = fork1(env);
    replicas.push(live[index]);
    await until(() => handledBy(replicas) > before, "the update after the kill");
    times.push(performance.now() - killedAt);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    kills: times.length,
    p50: sorted[Math.floor(sorted.length / 2)],
    max: sorted[sorted.length - 1],
    lease: job.leaseMs,
  };
}

/** Updates/s with CPU-bound handlers, and how the work and the CPU split over the replicas. */
async function scale(
  job: JobOf<"cluster">,
  env: Record<string, string>,
  replicas: Replica[],
  redis: BenchRedis,
): Promise<Metrics> {
  for (let i = 0; i < job.replicas; i++) replicas.push(fork1(env));
  await until(() => ready(replicas), "replicas with partitions and a leader");
  // Let the partition leases settle (rebalance after the last one joined).
  await delay(1_500);
  for (const r of replicas) r.start = r.last;
  const redis0 = await redis.cpu();
  const calls0 = await redis.calls();
  const t0 = performance.now();
  await server({ cmd: "pushMessages", count: job.updates, chats: job.chats, firstChatId: 1 });
  await until(
    () => handledBy(replicas) - handledOf(replicas, "start") >= job.updates,
    "all updates",
  );
  const seconds = (performance.now() - t0) / 1000;
  const shares = replicas.map((r) => r.last.handled - (r.start?.handled ?? 0));
  const since = (key: "cpu" | "work") =>
    replicas.reduce((n, r) => n + r.last[key] - (r.start?.[key] ?? 0), 0);
  const cpu = since("cpu");
  const work = since("work");
  const busy = replicas.map((r) => {
    const active = r.last.active - (r.start?.active ?? 0);
    return (100 * active) / (active + r.last.idle - (r.start?.idle ?? 0));
  });
  const leader = replicas.find((r) => r.last.role === "leader") ?? replicas[0];
  return {
    updates: job.updates,
    rate: job.updates / seconds,
    cpu: cpu / job.updates,
    redisCpu: ((await redis.cpu()) - redis0) / job.updates,
    ...(await perThousand(redis, calls0, job.updates)),
    leaderShare: (100 * (leader.last.handled - (leader.start?.handled ?? 0))) / job.updates,
    minShare: (100 * Math.min(...shares)) / job.updates,
    leastBusy: Math.min(...busy),
    workMs: work / job.updates / 1000,
    // Cores' worth of handler work per second: cancels how much work one update got.
    cores: work / 1e6 / seconds,
  };
}

function handledOf(replicas: Replica[], at: "start"): number {
  return replicas.reduce((n, r) => n + (r[at]?.handled ?? 0), 0);
}

/** Client round trips to Redis per 1,000 updates: reads, script calls (writes, acks, heartbeats). */
async function perThousand(
  redis: BenchRedis,
  before: Record<string, number>,
  updates: number,
): Promise<Metrics> {
  const after = await redis.calls();
  const delta = (name: string) => (((after[name] ?? 0) - (before[name] ?? 0)) * 1000) / updates;
  return { reads: delta("xreadgroup"), scripts: delta("evalsha") };
}
