// `npm run demo:cluster -- [N]`: N replicas (default 3) of one bot against a
// local Redis (REDIS_URL, default redis://127.0.0.1:6379) and the fake Bot API
// server. Every 8 s the leader is killed (SIGKILL) and a new replica started;
// the screen shows who polls, who holds which partitions, and how long the
// takeover took. Ctrl-C stops everything gracefully.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Bot } from "grammy";
import { isReplayed, run, sequentialize } from "grammy-runner";
import { redisCluster } from "grammy-runner/redis";
import { createFakeBotApi } from "grammy-runner/testing";

const LEASE_MS = 3_000;
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface Status {
  role: string;
  partitions: number[];
  handled: number;
  replayed: number;
}

if (process.argv.includes("--replica")) await replica();
else await orchestrate(Number(process.argv[2] ?? 3));

async function replica(): Promise<void> {
  const [apiRoot, token, name] = [
    process.env.DEMO_API,
    process.env.DEMO_TOKEN,
    process.env.DEMO_NAME,
  ];
  const bot = new Bot(token ?? "", { client: { apiRoot } });
  let handled = 0;
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.on("message", async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 45));
    handled++;
    await ctx.reply(isReplayed(ctx.update) ? "again" : "ok");
  });
  const handle = run(bot, {
    runner: { silent: true },
    cluster: redisCluster({ url: redisUrl, name, leaseMilliseconds: LEASE_MS }),
  });
  setInterval(() => {
    const c = handle.stats().cluster;
    if (!process.connected) process.exit(0);
    process.send?.({ role: c?.role, partitions: c?.partitions, handled, replayed: c?.replayed });
  }, 250);
  // Ctrl-C reaches the whole process group: the orchestrator stops the replicas itself.
  process.on("SIGINT", () => {});
  process.on("message", () => void handle.stop().then(() => process.exit(0)));
  await handle.task();
}

async function orchestrate(count: number): Promise<void> {
  const api = await createFakeBotApi();
  const env = {
    ...process.env,
    DEMO_API: api.url,
    DEMO_TOKEN: api.token,
    DEMO_NAME: `demo-${process.pid}`,
  };
  const file = fileURLToPath(import.meta.url);
  const replicas = new Map<ChildProcess, Status>();
  let next = 1;
  const names = new Map<ChildProcess, string>();
  const start = () => {
    const child = fork(file, ["--replica"], { env });
    names.set(child, `r${next++}`);
    child.on("message", (status: Status) => replicas.set(child, status));
    replicas.set(child, { role: "starting", partitions: [], handled: 0, replayed: 0 });
  };
  for (let i = 0; i < count; i++) start();
  const traffic = setInterval(() => api.pushMessages({ count: 20, chats: 40 }), 100);
  let killedAt = 0;
  let lastEvent = "";
  const show = () => {
    const leader = [...replicas].find(([, s]) => s.role === "leader");
    if (killedAt > 0 && leader !== undefined) {
      lastEvent = `${names.get(leader[0])} took over ${Date.now() - killedAt} ms after the kill`;
      killedAt = 0;
    }
    if (!process.env.DEBUG) console.clear();
    console.log(
      `grammy-runner cluster demo: ${replicas.size} replicas, lease ${LEASE_MS} ms, Ctrl-C to stop\n`,
    );
    for (const [child, s] of replicas)
      console.log(
        `${names.get(child)}  ${s.role.padEnd(8)} partitions [${s.partitions.join(",")}]  handled ${s.handled}  replayed ${s.replayed}`,
      );
    console.log(
      `\npending at Telegram: ${api.pending()}  most polls at once: ${api.stats.maxConcurrentPolls}`,
    );
    console.log(lastEvent);
  };
  const screen = setInterval(show, 250);
  const killer = setInterval(() => {
    const leader = [...replicas].find(([, s]) => s.role === "leader");
    if (leader === undefined) return;
    leader[0].kill("SIGKILL");
    replicas.delete(leader[0]);
    killedAt = Date.now();
    lastEvent = `killed the leader ${names.get(leader[0])}; starting a replacement`;
    start();
  }, 8_000);
  process.once("SIGINT", async () => {
    clearInterval(traffic);
    clearInterval(killer);
    clearInterval(screen);
    await Promise.all(
      [...replicas.keys()].map(
        (child) =>
          new Promise((resolve) => {
            child.once("exit", resolve);
            if (child.connected) child.send("stop");
            else resolve(undefined);
          }),
      ),
    );
    console.log(`stopped; Telegram was told offset ${api.stats.confirmedOffset}`);
    await api.close();
  });
}
