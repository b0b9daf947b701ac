/**
 * One replica of the cluster-* scenarios' clusters, forked by jobs/cluster.ts:
 * run(bot, { cluster: redisCluster() }) against the fake server, reporting
 * its counters and CPU time to the job every 50 ms; stops on any message.
 */
import { Bot } from "grammy";
import { run, sequentialize } from "../src/index.js";
import { redisCluster } from "../src/redis/index.js";
import { burn } from "./cpu-work.js";
import { cpuMicros } from "./jobs/usage.js";

/** What a replica reports. */
export interface ReplicaReport {
  role: "leader" | "standby";
  partitions: number;
  handled: number;
  replayed: number;
  /** This process' user + system CPU so far, µs. */
  cpu: number;
  /** CPU spent in the handlers' work so far, µs. */
  work: number;
  /** Event loop busy and idle time so far, ms (performance.eventLoopUtilization()). */
  active: number;
  idle: number;
}

const env = process.env;
const rounds = Number(env.BENCH_ROUNDS ?? 0);
const bot = new Bot(env.BENCH_TOKEN ?? "", { client: { apiRoot: env.BENCH_API } });
bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
let work = 0;
const loop = () => {
  const { active, idle } = performance.eventLoopUtilization();
  return { active, idle };
};
bot.on("message", () => {
  // No replies: they would cost the fake server's CPU, which shares the cores.
  if (rounds === 0) return;
  const before = cpuMicros();
  burn(rounds);
  work += cpuMicros() - before;
});
const handle = run(bot, {
  runner: { silent: true },
  cluster: redisCluster({
    url: env.BENCH_REDIS ?? "",
    name: env.BENCH_NAME,
    leaseMilliseconds: Number(env.BENCH_LEASE ?? 10_000),
  }),
});
const timer = setInterval(() => {
  const stats = handle.stats();
  const report: ReplicaReport = {
    role: stats.cluster?.role ?? "standby",
    partitions: stats.cluster?.partitions.length ?? 0,
    handled: stats.handled,
    replayed: stats.cluster?.replayed ?? 0,
    cpu: cpuMicros(),
    work,
    ...loop(),
  };
  if (process.connected) process.send?.(report);
  else process.exit(0);
}, 50);
process.on("message", () => {
  clearInterval(timer);
  void handle.stop().then(() => process.exit(0));
});
