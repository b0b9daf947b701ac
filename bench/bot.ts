/**
 * One measured run: a real grammY bot driven by one implementation (ours,
 * @grammyjs/runner or `bot.start()`) against the fake server in another
 * process. Started by `main.ts` with the task in `BENCH_JOB`; reports its
 * metrics over IPC and exits.
 */
import { subscribe } from "node:diagnostics_channel";
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { ClientRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import {
  distribute as theirDistribute,
  run as theirRun,
  sequentialize as theirSequentialize,
} from "@grammyjs/runner";
import { Bot, type Context, type Middleware } from "grammy";
import type { Update, UserFromGetMe } from "grammy/types";
import {
  fileJournal,
  distribute as ourDistribute,
  run as ourRun,
  sequentialize as ourSequentialize,
  type UpdateJournal,
} from "../src/index.js";
import { calibrate, timeRounds } from "./cpu-work.js";
import {
  type BotReport,
  type BotTask,
  type Impl,
  JOB_ENV,
  type Job,
  type Metrics,
  now,
  type RpcReply,
  type RpcRequest,
  type ServerCommand,
  type ServerReplies,
  WORKER_ENV,
} from "./protocol.js";

/** bench/.out/, where run.mjs puts this bundle and the worker bundles. */
const OUT_DIR = dirname(fileURLToPath(import.meta.url));

// === Talking to the server through the orchestrator

let nextRpcId = 1;
const replies = new Map<
  number,
  { resolve: (value: unknown) => void; reject: (e: Error) => void }
>();

process.on("message", (message: RpcReply) => {
  if (message.type !== "rpc-reply") return;
  const waiter = replies.get(message.id);
  if (waiter === undefined) return;
  replies.delete(message.id);
  if (message.error !== undefined) waiter.reject(new Error(`server: ${message.error}`));
  else waiter.resolve(message.result);
});

function server<C extends ServerCommand>(command: C): Promise<ServerReplies[C["cmd"]]> {
  const id = nextRpcId++;
  const request: RpcRequest = { type: "rpc", id, command };
  return new Promise((resolve, reject) => {
    replies.set(id, { resolve: resolve as (value: unknown) => void, reject });
    process.send?.(request);
  });
}

// === Helpers

type Server = NonNullable<BotTask["server"]>;

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Heap and RSS in bytes after full garbage collections; needs `node --expose-gc`. */
function memoryAfterGc(): { heap: number; rss: number } {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error("this job needs the bot process to run with --expose-gc");
  // The second pass takes what the first one's weak references and finalizers let go.
  gc();
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Handler waits that can be cut short once a run has measured what it wants,
 * so that the rest (e.g. a sequential backlog) drains quickly.
 */
const sleepers = new Set<() => void>();
let fastForwarding = false;

function pause(ms: number): Promise<void> {
  if (fastForwarding) return Promise.resolve();
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      sleepers.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    sleepers.add(wake);
  });
}

function fastForward(): void {
  fastForwarding = true;
  for (const wake of [...sleepers]) wake();
}

/** Resolves when `condition` holds (checked every 5 ms), or after `capMs` with `false`. */
async function waitUntil(condition: () => boolean, capMs: number): Promise<boolean> {
  const until = Date.now() + capMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await delay(5);
  }
  return true;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function newBot(srv: Server | undefined): Bot {
  if (srv === undefined) throw new Error("this job needs the fake server");
  return new Bot(srv.token, { client: { apiRoot: srv.url } });
}

/**
 * Counts getUpdates calls and notes the time and CPU of the first one: in
 * grammY's API transformer, or, for `ours-http` (whose getUpdates bypasses
 * `bot.api`), when node:http creates a request whose path ends in /getUpdates.
 */
function probeGetUpdates(
  bot: Bot,
  impl: Impl,
): { calls: number; firstAt: number; firstCpu: number } {
  const probe = { calls: 0, firstAt: 0, firstCpu: 0 };
  const called = (): void => {
    if (probe.calls++ === 0) {
      probe.firstAt = now();
      probe.firstCpu = cpuMicros();
    }
  };
  if (impl === "ours-http") {
    subscribe("http.client.request.start", (message) => {
      const { request } = message as { request: ClientRequest };
      if (request.path.endsWith("/getUpdates")) called();
    });
    return probe;
  }
  bot.api.config.use((prev, method, payload, signal) => {
    if (method === "getUpdates") called();
    return prev(method, payload, signal);
  });
  return probe;
}

function chatKey(ctx: Context): string {
  return String(ctx.chat?.id);
}

function sequentializeOf(impl: Impl): Middleware<Context> {
  if (impl === "ours" || impl === "ours-http") return ourSequentialize(chatKey);
  if (impl === "runner") return theirSequentialize(chatKey);
  throw new Error(`no sequentialize for ${impl}`);
}

interface Driver {
  /** The implementation's own stop: `handle.stop()` or `bot.stop()`. */
  stop(): Promise<void>;
  /** Resolves when the polling loop has ended (after `stop()`). */
  ended(): Promise<void>;
}

function start(impl: Impl, bot: Bot, concurrency?: number, journal?: UpdateJournal): Driver {
  const sink = concurrency === undefined ? undefined : { concurrency };
  if (journal !== undefined && impl !== "ours" && impl !== "ours-http")
    throw new Error(`no journal for ${impl}`);
  switch (impl) {
    case "ours":
    case "ours-http": {
      const runner =
        impl === "ours-http" ? { silent: true, transport: "node-http" as const } : { silent: true };
      const handle = ourRun(bot, { runner, sink, journal });
      return { stop: () => handle.stop(), ended: async () => void (await handle.task()) };
    }
    case "runner": {
      const handle = theirRun(bot, { runner: { silent: true }, sink });
      let stopped: Promise<void> | undefined;
      return {
        stop: async () => {
          stopped = handle.stop() ?? Promise.resolve();
          await stopped;
        },
        ended: async () => void (await stopped),
      };
    }
    case "start": {
      const loop = bot.start({ drop_pending_updates: false });
      return { stop: () => bot.stop(), ended: () => loop };
    }
    default:
      throw new Error(`${impl} is not a runner`);
  }
}

// === Jobs

async function throughput(
  impl: Impl,
  job: Extract<Job, { kind: "throughput" }>,
  srv: Server | undefined,
): Promise<Metrics> {
  const floor = job.syncFloorBytes === undefined ? undefined : await syncFloor(job.syncFloorBytes);
  const bot = newBot(srv);
  const probe = probeGetUpdates(bot, impl);
  const total = job.updates;
  await server({ cmd: "pushMessages", count: total, chats: job.chats, firstChatId: 1 });
  await bot.init();
  let errors = 0;
  bot.catch(() => {
    errors++;
  });
  if (job.seq && impl !== "start") bot.use(sequentializeOf(impl));

  let done = 0;
  let end = { at: 0, cpu: 0, calls: 0, rss: 0 };
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const mark = (): void => {
    if (++done !== total) return;
    end = { at: now(), cpu: cpuMicros(), calls: probe.calls, rss: peakRssMb() };
    finish();
  };
  const ms = job.delayMs;
  if (ms > 0)
    bot.use(async () => {
      await delay(ms);
      mark();
    });
  else bot.use(mark);

  // A fresh journal directory per run, on the same disk as everything else (fsync included).
  const dir = job.journal ? await mkdtemp(join(tmpdir(), "grammy-runner-bench-journal-")) : "";
  try {
    const driver = start(impl, bot, undefined, job.journal ? fileJournal(dir) : undefined);
    await finished;
    await driver.stop();
    await driver.ended();
  } finally {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  }
  const seconds = (end.at - probe.firstAt) / 1000;
  return {
    updates: total,
    rate: total / seconds,
    cpu: (end.cpu - probe.firstCpu) / total,
    rss: end.rss,
    calls: (end.calls / total) * 1000,
    errors,
    ...(floor === undefined ? {} : { wallPerUpdate: (seconds * 1e6) / total, syncFloor: floor }),
  };
}

/**
 * Microseconds (p50) that writing `bytes` into preallocated space of a file
 * on the journal's disk and fdatasyncing it take, 1 ms apart, as the
 * journal's write rounds are here: the least a batch costs with a journal.
 */
async function syncFloor(bytes: number): Promise<number> {
  const rounds = 200;
  const dir = await mkdtemp(join(tmpdir(), "grammy-runner-bench-sync-"));
  const fd = openSync(join(dir, "floor"), "w");
  try {
    writeSync(fd, Buffer.alloc(bytes * rounds));
    fdatasyncSync(fd);
    const data = Buffer.alloc(bytes, "{");
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await delay(1);
      const started = performance.now();
      writeSync(fd, data, 0, bytes, i * bytes);
      fdatasyncSync(fd);
      times.push((performance.now() - started) * 1000);
    }
    return percentile(
      times.sort((a, b) => a - b),
      0.5,
    );
  } finally {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
}

const FLOOR_BOT_INFO: UserFromGetMe = {
  id: 123456789,
  is_bot: true,
  first_name: "Test Bot",
  username: "test_bot",
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
} as UserFromGetMe;

/** The same updates the fake server's `pushMessages` makes (private chats, round-robin). */
function makeUpdates(count: number, chats: number): Update[] {
  const date = Math.floor(Date.now() / 1000);
  const updates: Update[] = [];
  for (let i = 0; i < count; i++) {
    const id = 1 + (i % chats);
    updates.push({
      update_id: i + 1,
      message: {
        message_id: i + 1,
        date,
        chat: { id, type: "private", first_name: `User ${id}` },
        from: { id, is_bot: false, first_name: `User ${id}` },
        text: `msg ${i}`,
      },
    });
  }
  return updates;
}

async function handleUpdateFloor(
  job: Extract<Job, { kind: "handle-update-floor" }>,
): Promise<Metrics> {
  const bot = new Bot("123456789:TEST_TOKEN_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {
    botInfo: FLOOR_BOT_INFO,
  });
  let done = 0;
  bot.use(() => {
    done++;
  });
  const updates = makeUpdates(job.updates, job.chats);
  const t0 = now();
  const cpu0 = cpuMicros();
  for (const update of updates) await bot.handleUpdate(update);
  const cpu = cpuMicros() - cpu0;
  const seconds = (now() - t0) / 1000;
  if (done !== job.updates) throw new Error(`handled ${done} of ${job.updates}`);
  return { updates: job.updates, rate: job.updates / seconds, cpu: cpu / job.updates };
}

async function getUpdatesFloor(
  job: Extract<Job, { kind: "get-updates-floor" }>,
  srv: Server | undefined,
): Promise<Metrics> {
  const bot = newBot(srv);
  await server({ cmd: "pushMessages", count: job.updates, chats: job.chats, firstChatId: 1 });
  await bot.init();
  let offset = 0;
  let got = 0;
  let calls = 0;
  const t0 = now();
  const cpu0 = cpuMicros();
  while (got < job.updates) {
    const updates = await bot.api.getUpdates({ offset, limit: 100, timeout: 0 });
    calls++;
    got += updates.length;
    if (updates.length > 0) offset = updates[updates.length - 1].update_id + 1;
  }
  const cpu = cpuMicros() - cpu0;
  const seconds = (now() - t0) / 1000;
  // Confirm the last batch, like a runner would.
  await bot.api.getUpdates({ offset, limit: 1, timeout: 0 });
  return {
    updates: got,
    rate: got / seconds,
    cpu: cpu / got,
    calls: (calls / got) * 1000,
  };
}

const FLOOD_CHAT = 1;
const FIRST_QUIET_CHAT = 1001;

async function fairness(
  impl: Impl,
  job: Extract<Job, { kind: "fairness" }>,
  srv: Server | undefined,
): Promise<Metrics> {
  const bot = newBot(srv);
  const probe = probeGetUpdates(bot, impl);
  const quietTotal = job.quietGroups * job.quietPerGroup;
  const total = job.flood + quietTotal;
  await server({ cmd: "pushMessages", count: job.flood, chats: 1, firstChatId: FLOOD_CHAT });
  await bot.init();
  bot.catch(() => {});
  bot.use(sequentializeOf(impl));

  let handled = 0;
  let floodRunning = 0;
  let lastFloodId = 0;
  let inOrder = true;
  let quietPush: Promise<Array<[number, number]>> | undefined;
  const quietStarts = new Map<number, number>();
  bot.use(async (ctx) => {
    const at = now();
    const id = ctx.update.update_id;
    const flood = ctx.chat?.id === FLOOD_CHAT;
    if (flood) {
      // Flood updates have ids 1..flood and must run one at a time, in that order.
      if (floodRunning > 0 || id !== lastFloodId + 1) inOrder = false;
      floodRunning++;
      lastFloodId = id;
      quietPush ??= server({
        cmd: "pushQuiet",
        groups: job.quietGroups,
        perGroup: job.quietPerGroup,
        intervalMs: job.quietIntervalMs,
        firstChatId: FIRST_QUIET_CHAT,
      });
    } else {
      quietStarts.set(id, at);
    }
    try {
      await pause(job.handlerMs);
    } finally {
      if (flood) floodRunning--;
      handled++;
    }
  });

  const driver = start(impl, bot, job.concurrency);
  const startedAt = Date.now();
  await waitUntil(() => quietStarts.size === quietTotal, job.capMs);
  const quietWait = Date.now() - startedAt;
  // Starts after the cap count as "> cap", even once the backlog drains.
  const measured = new Map(quietStarts);
  // Measured: let the backlog drain without the 10 ms waits.
  fastForward();
  const drained = await waitUntil(() => handled === total, 15_000);
  const calls = probe.calls;
  const handledAtEnd = handled;
  await driver.stop();
  await driver.ended();
  const pushed = quietPush === undefined ? [] : await quietPush;
  const latencies: number[] = [];
  for (const [id, at] of pushed) {
    const started = measured.get(id);
    latencies.push(started === undefined ? Number.POSITIVE_INFINITY : Math.max(0, started - at));
  }
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.length === 0 ? Number.NaN : latencies[latencies.length - 1],
    quietStarted: measured.size,
    inOrder: inOrder && drained && lastFloodId === job.flood,
    calls: (calls / Math.max(1, handledAtEnd)) * 1000,
    wait: quietWait,
  };
}

async function stopJob(
  impl: Impl,
  job: Extract<Job, { kind: "stop" }>,
  srv: Server | undefined,
): Promise<Metrics> {
  const bot = newBot(srv);
  await server({ cmd: "pushMessages", count: job.handlers, chats: job.handlers, firstChatId: 1 });
  await bot.init();
  bot.catch(() => {});
  let started = 0;
  let finished = 0;
  let firstStarted!: () => void;
  const firstStart = new Promise<void>((resolve) => {
    firstStarted = resolve;
  });
  bot.use(async () => {
    if (started++ === 0) firstStarted();
    await pause(job.handlerMs);
    finished++;
  });

  const driver = start(impl, bot);
  await firstStart;
  await delay(job.stopAfterMs);
  const runningAtStop = started - finished;
  const t0 = now();
  await driver.stop();
  const stopMs = now() - t0;
  const finishedAtStop = finished;
  const stats = await server({ cmd: "stats" });
  const confirmed = Math.max(0, stats.confirmedOffset - 1);
  // Measured: let whatever still runs end quickly.
  fastForward();
  await driver.ended();
  await waitUntil(() => finished === started, 10_000);
  return {
    runningAtStop,
    finishedAtStop,
    stopMs,
    confirmedUnfinished: Math.max(0, confirmed - finishedAtStop),
    unconfirmed: job.handlers - confirmed,
  };
}

/**
 * What each in-flight update costs: every handler awaits one promise that is
 * released only after the reading, so all the updates are held at once, either
 * running (a chat each) or, in one chat behind sequentialize, waiting for
 * their turn. The baseline is read before the runner starts.
 */
async function memory(
  impl: Impl,
  job: Extract<Job, { kind: "memory" }>,
  srv: Server | undefined,
): Promise<Metrics> {
  const bot = newBot(srv);
  const total = job.updates;
  const chats = job.oneChat ? 1 : total;
  await server({ cmd: "pushMessages", count: total, chats, firstChatId: 1 });
  await bot.init();
  bot.catch(() => {});
  let arrived = 0;
  let started = 0;
  let finished = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  // In front of sequentialize, so that updates waiting for their turn are counted too.
  bot.use((_ctx, next) => {
    arrived++;
    return next();
  });
  if (job.oneChat) bot.use(sequentializeOf(impl));
  bot.use(async () => {
    started++;
    await released;
    finished++;
  });

  const before = memoryAfterGc();
  const driver = start(impl, bot, total);
  try {
    if (!(await waitUntil(() => arrived === total, 30_000)))
      throw new Error(`only ${arrived} of ${total} updates arrived`);
    // Let the last batch's parking and the next getUpdates happen before the reading.
    await delay(job.settleMs);
    const after = memoryAfterGc();
    const inFlight = arrived - finished;
    return {
      heap: (after.heap - before.heap) / inFlight,
      rss: (after.rss - before.rss) / inFlight,
      peakRss: peakRssMb(),
      inFlight,
      running: started - finished,
    };
  } finally {
    release();
    await waitUntil(() => finished === arrived, 30_000);
    await driver.stop();
    await driver.ended();
  }
}

/** Set by jobs whose threads cannot be ended (their `distribute()` has no close). */
let exitAfterReport = false;

/**
 * CPU-bound handlers in `distribute()` worker threads: the central bot only
 * fetches updates and hands them on. Warm-up updates first (the threads start
 * on the first update), then the measured batch is pushed while the runner
 * long-polls, so the time is from that push to the last update handled.
 */
/** Calibrated once, here, before any thread runs; the workers inherit it through their environment. */
function calibrateWork(workMs: number): { rounds: number; workMs: number } {
  const rounds = calibrate(workMs);
  process.env[WORKER_ENV.rounds] = String(rounds);
  return { rounds, workMs: timeRounds(rounds, 20) };
}

/**
 * The floor of `workers`: the same work in `count` bare worker threads, fed
 * round-robin by this thread with every message posted at once. No grammY,
 * no HTTP: how far `count` threads scale on this machine, now.
 */
async function workersFloor(job: Extract<Job, { kind: "workers" }>): Promise<Metrics> {
  const { workMs } = calibrateWork(job.workMs);
  const threads = Array.from(
    { length: job.count },
    () => new Worker(join(OUT_DIR, "worker-cpu-floor.mjs")),
  );
  const waiting = new Map<number, () => void>();
  for (const thread of threads)
    thread.on("message", (id: number) => {
      waiting.get(id)?.();
      waiting.delete(id);
    });
  const post = (id: number): Promise<void> =>
    new Promise((resolve) => {
      waiting.set(id, resolve);
      threads[id % threads.length].postMessage(id);
    });
  const batch = async (from: number, count: number): Promise<void> => {
    await Promise.all(Array.from({ length: count }, (_, i) => post(from + i)));
  };
  try {
    await batch(0, job.warmup);
    const t0 = now();
    const cpu0 = cpuMicros();
    const elu0 = performance.eventLoopUtilization();
    await batch(job.warmup, job.updates);
    const seconds = (now() - t0) / 1000;
    const cpu = cpuMicros() - cpu0;
    const elu = performance.eventLoopUtilization(elu0);
    const rate = job.updates / seconds;
    return {
      updates: job.updates,
      rate,
      workMs,
      cores: (rate * workMs) / 1000,
      cpu: cpu / job.updates,
      central: elu.utilization * 100,
      calls: Number.NaN,
    };
  } finally {
    await Promise.all(threads.map((thread) => thread.terminate()));
  }
}

async function workers(
  impl: Impl,
  job: Extract<Job, { kind: "workers" }>,
  srv: Server | undefined,
): Promise<Metrics> {
  if (impl === "floor") return workersFloor(job);
  const bot = newBot(srv);
  const probe = probeGetUpdates(bot, impl);
  const { workMs } = calibrateWork(job.workMs);
  process.env[WORKER_ENV.token] = srv?.token ?? "";
  await bot.init();
  let errors = 0;
  let lastError = "";
  bot.catch((error) => {
    errors++;
    lastError = String(error.error);
  });

  let distributed: ((ctx: Context) => Promise<void>) & { close?: () => Promise<void> };
  if (impl === "ours") {
    distributed = ourDistribute<Context>(join(OUT_DIR, "worker-cpu.mjs"), { count: job.count });
  } else if (impl === "runner") {
    // Their pool is cached per specifier for the process; each run is a fresh process.
    distributed = theirDistribute<Context>(join(OUT_DIR, "worker-cpu-runner.mjs"), {
      count: job.count,
    });
    exitAfterReport = true;
  } else {
    throw new Error(`no distribute for ${impl}`);
  }
  let done = 0;
  let target = job.warmup;
  let reached = (): void => {};
  bot.use(async (ctx) => {
    await distributed(ctx);
    if (++done === target) reached();
  });
  const until = (count: number): Promise<void> =>
    new Promise((resolve) => {
      target = count;
      reached = resolve;
      if (done >= count) resolve();
    });

  const driver = start(impl, bot, job.concurrency);
  try {
    // Warm-up: chats of their own, enough of them to reach every worker.
    await server({
      cmd: "pushMessages",
      count: job.warmup,
      chats: job.warmup,
      firstChatId: 1_000_000,
    });
    await until(job.warmup);
    const total = job.updates;
    const t0 = now();
    const cpu0 = cpuMicros();
    const calls0 = probe.calls;
    const elu0 = performance.eventLoopUtilization();
    const measured = until(job.warmup + total);
    await server({ cmd: "pushMessages", count: total, chats: job.chats, firstChatId: 1 });
    await measured;
    const seconds = (now() - t0) / 1000;
    const cpu = cpuMicros() - cpu0;
    const calls = probe.calls - calls0;
    const elu = performance.eventLoopUtilization(elu0);
    if (errors > 0) throw new Error(`${errors} updates failed: ${lastError}`);
    const rate = total / seconds;
    return {
      updates: total,
      rate,
      workMs,
      cores: (rate * workMs) / 1000,
      cpu: cpu / total,
      central: elu.utilization * 100,
      calls: (calls / total) * 1000,
    };
  } finally {
    await driver.stop();
    await driver.ended();
    await distributed.close?.();
  }
}

async function execute(task: BotTask): Promise<Metrics> {
  const { impl, job, server: srv } = task;
  switch (job.kind) {
    case "throughput":
      return throughput(impl, job, srv);
    case "handle-update-floor":
      return handleUpdateFloor(job);
    case "get-updates-floor":
      return getUpdatesFloor(job, srv);
    case "fairness":
      return fairness(impl, job, srv);
    case "stop":
      return stopJob(impl, job, srv);
    case "memory":
      return memory(impl, job, srv);
    case "workers":
      return workers(impl, job, srv);
  }
}

function report(message: BotReport): void {
  process.send?.(message, () => {
    process.disconnect?.();
    // @grammyjs/runner's worker threads stay referenced for good: end them with the process.
    if (exitAfterReport) process.exit(0);
  });
}

const raw = process.env[JOB_ENV];
if (raw === undefined) throw new Error(`${JOB_ENV} is not set: this file is started by main.ts`);
execute(JSON.parse(raw) as BotTask).then(
  (metrics) => report({ type: "result", metrics }),
  (error: unknown) =>
    report({
      type: "error",
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    }),
);
