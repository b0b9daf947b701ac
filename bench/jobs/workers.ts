/**
 * workers: CPU-bound handlers in `distribute()` worker threads, the central
 * bot only fetching updates and handing them on; and its floor, the same work
 * in bare threads.
 */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { distribute as theirDistribute } from "@grammyjs/runner";
import type { Context } from "grammy";
import { distribute as ourDistribute } from "../../src/index.js";
import { noop } from "../../src/util/noop.js";
import { calibrate, timeRounds } from "../cpu-work.js";
import { OUT_DIR } from "../paths.js";
import {
  type Impl,
  type JobOf,
  type Metrics,
  type ServerAddress,
  WORKER_ENV,
} from "../protocol.js";
import { fakeServerBot, probeGetUpdates, start, stopAndEnd } from "./implementations.js";
import { server } from "./rpc.js";
import { type Span, startSpan } from "./usage.js";

type Distributed = ((ctx: Context) => Promise<void>) & { close?: () => Promise<void> };

/**
 * Calibrates the rounds once, here, before any thread runs; the workers
 * inherit them through their environment. Returns what they take, timed again.
 */
function calibrateWork(workMs: number): number {
  const rounds = calibrate(workMs);
  process.env[WORKER_ENV.rounds] = String(rounds);
  return timeRounds(rounds, 20);
}

/** The span of a measured batch, clocked together with the event loop's utilization. */
function startBatch(): () => Span & { busy: number } {
  const span = startSpan();
  const elu0 = performance.eventLoopUtilization();
  return () => ({ ...span(), busy: performance.eventLoopUtilization(elu0).utilization });
}

function workersMetrics(
  updates: number,
  batch: Span & { busy: number },
  workMs: number,
  calls: number,
): Metrics {
  const rate = updates / batch.seconds;
  return {
    updates,
    rate,
    workMs,
    cores: (rate * workMs) / 1000,
    cpu: batch.cpu / updates,
    central: batch.busy * 100,
    calls,
  };
}

/**
 * The floor of `workers`: the same work in `count` bare worker threads, fed
 * round-robin by this thread with every message posted at once. No grammY,
 * no HTTP: how far `count` threads scale on this machine, now.
 */
async function workersFloor(job: JobOf<"workers">): Promise<Metrics> {
  const workMs = calibrateWork(job.workMs);
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
    const measured = startBatch();
    await batch(job.warmup, job.updates);
    return workersMetrics(job.updates, measured(), workMs, Number.NaN);
  } finally {
    await Promise.all(threads.map((thread) => thread.terminate()));
  }
}

function distributeOf(impl: Impl, count: number): Distributed {
  if (impl === "ours") return ourDistribute<Context>(join(OUT_DIR, "worker-cpu.mjs"), { count });
  // Their pool is cached per specifier for the process; each run is a fresh process.
  if (impl === "runner")
    return theirDistribute<Context>(join(OUT_DIR, "worker-cpu-runner.mjs"), { count });
  throw new Error(`no distribute for ${impl}`);
}

/**
 * Warm-up updates first (the threads start on the first update), then the
 * measured batch is pushed while the runner long-polls, so the time is from
 * that push to the last update handled.
 */
export async function workers(
  impl: Impl,
  job: JobOf<"workers">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  if (impl === "floor") return workersFloor(job);
  const workMs = calibrateWork(job.workMs);
  process.env[WORKER_ENV.token] = srv?.token ?? "";
  const bot = await fakeServerBot(srv);
  const probe = probeGetUpdates(bot);
  let errors = 0;
  let lastError = "";
  bot.catch((error) => {
    errors++;
    lastError = String(error.error);
  });
  const distributed = distributeOf(impl, job.count);
  let done = 0;
  let target = job.warmup;
  let reached: () => void = noop;
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
    const calls0 = probe.calls;
    const measuring = startBatch();
    const measured = until(job.warmup + total);
    await server({ cmd: "pushMessages", count: total, chats: job.chats, firstChatId: 1 });
    await measured;
    const batch = measuring();
    if (errors > 0) throw new Error(`${errors} updates failed: ${lastError}`);
    return workersMetrics(total, batch, workMs, ((probe.calls - calls0) / total) * 1000);
  } finally {
    await stopAndEnd(driver);
    await distributed.close?.();
  }
}
