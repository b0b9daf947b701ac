/**
 * The cluster's benchmarks, apart from bench/run.mjs (they need Redis):
 *   node scripts/run-ts.mjs bench/cluster-bench.ts failover [kills=10] [leaseMs=10000]
 *   node scripts/run-ts.mjs bench/cluster-bench.ts scale [updates=4000]
 *   node scripts/run-ts.mjs bench/cluster-bench.ts overhead [updates=20000]
 * failover: 3 replica processes; the leader is SIGKILLed, then one update is
 * pushed; the time until it is handled (by the new leader's first fetch).
 * scale: a CPU-bound handler (about 1 ms per update), 2 replica processes
 * against 1: updates handled per second once the replicas are ready.
 * overhead: 1 replica in a cluster against plain run(), no-op and 5 ms handlers.
 * Redis: REDIS_URL, default redis://127.0.0.1:6379.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Bot } from "grammy";
import { run, sequentialize } from "grammy-runner";
import { redisCluster } from "grammy-runner/redis";
import { createFakeBotApi, type FakeBotApi } from "grammy-runner/testing";
import { createClient } from "redis";
import { burn, calibrate } from "./cpu-work.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const [mode = "overhead", a, b] = process.argv.slice(2);

if (mode === "--replica") replica();
else {
  if (mode === "failover") await failover(Number(a ?? 10), Number(b ?? 10_000));
  else if (mode === "scale") await scale(Number(a ?? 4_000));
  else await overhead(Number(a ?? 20_000));
  await dropBenchKeys();
}

/** Deletes the keys of this run's clusters (all named bench-*-<pid>…). */
async function dropBenchKeys(): Promise<void> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  for (const key of (await client.sendCommand([
    "KEYS",
    `grammy-runner:{bench-*-${process.pid}*`,
  ])) as string[])
    await client.sendCommand(["DEL", key]);
  client.destroy();
}

function replica(): void {
  const env = process.env;
  const rounds = Number(env.BENCH_ROUNDS ?? 0);
  const bot = new Bot(env.BENCH_TOKEN ?? "", { client: { apiRoot: env.BENCH_API } });
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.on("message", async (ctx) => {
    // CPU-bound runs only burn: replies would cost the fake server's CPU, not the replicas'.
    if (rounds > 0) burn(rounds);
    else await ctx.reply("ok");
  });
  const handle = run(bot, {
    runner: { silent: true },
    cluster: redisCluster({
      url: redisUrl,
      name: env.BENCH_NAME,
      leaseMilliseconds: Number(env.BENCH_LEASE ?? 10_000),
    }),
  });
  setInterval(() => {
    const stats = handle.stats();
    if (process.connected) process.send?.({ ...stats.cluster, handled: stats.handled });
    else process.exit(0);
  }, 100);
  process.on("message", () => void handle.stop().then(() => process.exit(0)));
}

interface Replica {
  child: ChildProcess;
  role?: string;
  partitions: number;
  handled: number;
}

function startReplica(api: FakeBotApi, name: string, extra: Record<string, string>): Replica {
  const child = fork(fileURLToPath(import.meta.url), ["--replica"], {
    env: { ...process.env, BENCH_API: api.url, BENCH_TOKEN: api.token, BENCH_NAME: name, ...extra },
  });
  const r: Replica = { child, partitions: 0, handled: 0 };
  child.on("message", (s: { role: string; partitions: number[]; handled: number }) => {
    r.role = s.role;
    r.partitions = s.partitions.length;
    r.handled = s.handled;
  });
  return r;
}

async function until(predicate: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function stopAll(replicas: Replica[]): Promise<void> {
  await Promise.all(
    replicas.map(
      (r) =>
        new Promise((resolve) => {
          r.child.once("exit", resolve);
          if (r.child.connected) r.child.send("stop");
          else resolve(undefined);
        }),
    ),
  );
}

function replies(api: FakeBotApi): number {
  return api.stats.methodCalls.sendMessage ?? 0;
}

function percentile(xs: number[], p: number): number {
  return [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
}

async function failover(kills: number, leaseMs: number): Promise<void> {
  const api = await createFakeBotApi();
  const name = `bench-failover-${process.pid}`;
  const env = { BENCH_LEASE: String(leaseMs) };
  const replicas = [0, 1, 2].map(() => startReplica(api, name, env));
  const times: number[] = [];
  for (let k = 0; k < kills; k++) {
    await until(
      () =>
        replicas.filter((r) => r.partitions > 0).length === 3 &&
        replicas.some((r) => r.role === "leader"),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const index = replicas.findIndex((r) => r.role === "leader");
    const before = replies(api);
    const killedAt = performance.now();
    replicas[index].child.kill("SIGKILL");
    api.pushMessages({ count: 1 });
    replicas[index] = startReplica(api, name, env);
    await until(() => replies(api) > before);
    times.push(performance.now() - killedAt);
    console.log(`kill ${k + 1}: ${Math.round(times[times.length - 1])} ms`);
  }
  console.log(
    `failover after a leader SIGKILL, lease ${leaseMs} ms, ${kills} kills: p50 ${Math.round(percentile(times, 0.5))} ms, max ${Math.round(Math.max(...times))} ms`,
  );
  await stopAll(replicas);
  await api.close();
}

async function scale(updates: number): Promise<void> {
  const rounds = calibrate(1);
  const rate = async (count: number) => {
    const api = await createFakeBotApi();
    const name = `bench-scale-${process.pid}-${count}`;
    const replicas = Array.from({ length: count }, () =>
      startReplica(api, name, { BENCH_ROUNDS: String(rounds), BENCH_LEASE: "5000" }),
    );
    await until(
      () => replicas.every((r) => r.partitions > 0) && replicas.some((r) => r.role === "leader"),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    const t0 = performance.now();
    api.pushMessages({ count: updates, chats: 400 });
    await until(() => replicas.reduce((n, r) => n + r.handled, 0) >= updates);
    const perSecond = updates / ((performance.now() - t0) / 1000);
    await stopAll(replicas);
    await api.close();
    return perSecond;
  };
  const one = await rate(1);
  const two = await rate(2);
  console.log(
    `scale, CPU-bound handler (~1 ms), ${updates} updates: 1 replica ${Math.round(one)}/s, 2 replicas ${Math.round(two)}/s, ratio ${(two / one).toFixed(2)}x`,
  );
}

async function overhead(updates: number): Promise<void> {
  for (const delay of [0, 5]) {
    const time = async (clustered: boolean) => {
      const api = await createFakeBotApi();
      const bot = new Bot(api.token, { client: { apiRoot: api.url } });
      let handled = 0;
      bot.on("message", async () => {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        handled++;
      });
      const handle = run(bot, {
        runner: { silent: true },
        ...(clustered && {
          cluster: redisCluster({ url: redisUrl, name: `bench-overhead-${process.pid}-${delay}` }),
        }),
      });
      api.pushMessages({ count: 100 });
      await until(() => handled === 100);
      const t0 = performance.now();
      api.pushMessages({ count: updates, chats: 1_000 });
      await until(() => handled === updates + 100);
      const ms = performance.now() - t0;
      await handle.stop();
      await api.close();
      return ms;
    };
    const plain = await time(false);
    const clustered = await time(true);
    console.log(
      `overhead, ${delay} ms handler, ${updates} updates: plain run() ${Math.round(plain)} ms, 1-replica cluster ${Math.round(clustered)} ms, ratio ${(clustered / plain).toFixed(2)}x`,
    );
  }
}
