/**
 * The cost of single API calls through grammY's default client (node-fetch)
 * and through createFetch(), in one bot process, the two clients alternating
 * round by round; the fake Bot API server runs in a child process.
 * sendMessage: 10,000 calls, 100 in flight. getUpdates: 20,000 updates in
 * batches of 100. Prints calls (or updates) per second and CPU per call.
 *
 * Run: node scripts/run-ts.mjs bench/client-calls.ts [rounds]
 */
import { fork } from "node:child_process";
import { Bot } from "grammy";
import { createFetch } from "../src/client/index.js";
import { createFakeBotApi } from "../src/testing/index.js";

const SERVER_ENV = "CLIENT_CALLS_SERVER";

interface Sample {
  rate: number;
  cpu: number;
}

async function serve(): Promise<void> {
  const api = await createFakeBotApi();
  process.send?.({ url: api.url, token: api.token });
  process.on("message", (count: number) => {
    api.pushMessages({ count, chats: 100 });
    process.send?.("pushed");
  });
  process.on("disconnect", () => void api.close());
}

/** Runs `work` and measures it: `count` items per second, CPU µs per item. */
async function measure(count: number, work: () => Promise<void>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return {
    rate: (count / (performance.now() - started)) * 1000,
    cpu: (used.user + used.system) / count,
  };
}

async function sendMessages(bot: Bot, calls: number, inFlight: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next++ < calls) await bot.api.sendMessage(1, "hi");
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

async function getUpdates(bot: Bot, updates: number): Promise<void> {
  let offset = 0;
  let got = 0;
  while (got < updates) {
    const batch = await bot.api.getUpdates({ offset, limit: 100, timeout: 0 });
    got += batch.length;
    offset = (batch.at(-1)?.update_id ?? offset - 1) + 1;
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4);
  const child = fork(process.argv[1], [], { env: { ...process.env, [SERVER_ENV]: "1" } });
  const server = await new Promise<{ url: string; token: string }>((resolve) =>
    child.once("message", resolve as (m: unknown) => void),
  );
  const push = (count: number) =>
    new Promise<void>((resolve) => {
      child.once("message", () => resolve());
      child.send(count);
    });
  const fast = createFetch();
  const bots = {
    "grammY default": new Bot(server.token, { client: { apiRoot: server.url } }),
    "createFetch()": new Bot(server.token, { client: { apiRoot: server.url, fetch: fast } }),
  };
  for (const bot of Object.values(bots)) await bot.init();
  const results: Record<string, { send: Sample[]; poll: Sample[] }> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, bot] of Object.entries(bots)) {
      results[name] ??= { send: [], poll: [] };
      results[name].send.push(await measure(10_000, () => sendMessages(bot, 10_000, 100)));
      await push(20_000);
      results[name].poll.push(await measure(20_000, () => getUpdates(bot, 20_000)));
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(15)} sendMessage ${Math.round(median(r.send.map((s) => s.rate)))} calls/s, ${median(r.send.map((s) => s.cpu)).toFixed(1)} µs CPU/call | getUpdates ${Math.round(median(r.poll.map((s) => s.rate)))} updates/s, ${median(r.poll.map((s) => s.cpu)).toFixed(2)} µs CPU/update`,
    );
  }
  await fast.close();
  child.disconnect();
}

if (process.env[SERVER_ENV] === "1") void serve();
else await main();
