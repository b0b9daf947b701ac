/**
 * webhook-*: grammy-runner's webhook() against grammY's webhookCallback
 * (with @grammyjs/runner's sequentialize), both served by node:http and fed
 * by the fake server's Telegram-like delivery (one update per request, a
 * chat's next only after an answer, 40 connections, 60 s timeout, re-sends).
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bot, webhookCallback } from "grammy";
import { fileJournal, type UpdateJournal, webhook } from "../../src/index.js";
import { noop } from "../../src/util/noop.js";
import { type Impl, type JobOf, type Metrics, now, type ServerAddress } from "../protocol.js";
import { percentile } from "../stats.js";
import { FairnessLog, FLOOD_CHAT, latencies } from "./fairness.js";
import { fakeServerBot, sequentializeOf } from "./implementations.js";
import { server } from "./rpc.js";
import { fastForward, pause, waitUntil } from "./waits.js";

const SECRET = "bench_secret";

type Timing = Pick<Served, "appendedAt" | "storedAfter">;

interface Served {
  url: string;
  /** With a journal: when each update_id was appended (on the shared clock). */
  appendedAt: Map<number, number>;
  /** With a journal: how long each update_id's append took to be durable, ms. */
  storedAfter: Map<number, number>;
  /** With a journal: fdatasync of a small write in its directory before the run, p50 and p99 ms. */
  fsync: { p50: number; p99: number } | undefined;
  stop(): Promise<void>;
}

/** 50 small writes, each fdatasynced, in `dir`: what one journal round costs on this disk. */
function fsyncTimes(dir: string): { p50: number; p99: number } {
  const path = join(dir, "fsync-probe");
  const fd = openSync(path, "w", 0o600);
  const times: number[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      writeSync(fd, Buffer.alloc(300, 0x61));
      const started = performance.now();
      fdatasyncSync(fd);
      times.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(path);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

/** `journal` with the time of each append and of its durability recorded, to split a latency there. */
function timedJournal(journal: UpdateJournal, served: Timing): UpdateJournal {
  return {
    open: () => journal.open(),
    append: (updates, offset) => {
      const at = now();
      for (const update of updates) served.appendedAt.set(update.update_id, at);
      const appended = journal.append(updates, offset);
      appended.then(() => {
        for (const update of updates) served.storedAfter.set(update.update_id, now() - at);
      }, noop);
      return appended;
    },
    settle: (id) => journal.settle(id),
    flush: () => journal.flush(),
    check: () => journal.check?.(),
    close: () => journal.close(),
  };
}

/** Serves `bot` on 127.0.0.1: ours with webhook(), "runner" with grammY's webhookCallback. */
async function serve(impl: Impl, bot: Bot, journal: boolean): Promise<Served> {
  let listener: (req: IncomingMessage, res: ServerResponse) => void;
  let stopBot: () => Promise<void> = async () => {};
  const dir = journal ? mkdtempSync(join(tmpdir(), "bench-webhook-")) : undefined;
  const timing: Timing = { appendedAt: new Map(), storedAfter: new Map() };
  const fsync = dir === undefined ? undefined : fsyncTimes(dir);
  if (impl === "ours") {
    const handle = webhook(bot, {
      secretToken: SECRET,
      silent: true,
      journal: dir === undefined ? undefined : timedJournal(fileJournal(dir), timing),
    });
    listener = handle.callback("http");
    stopBot = () => handle.stop();
  } else {
    // grammY's defaults: answer when the handler is done, throw after 10 s.
    const callback = webhookCallback(bot, "http", { secretToken: SECRET });
    listener = (req, res) => {
      callback(req, res).catch(() => {
        // What a web framework does with a handler that throws.
        if (!res.headersSent) res.writeHead(500).end();
      });
    };
  }
  const http = createServer(listener);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bot`,
    ...timing,
    fsync,
    stop: async () => {
      await stopBot();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function setWebhook(bot: Bot, url: string): Promise<void> {
  await bot.api.setWebhook(url, { secret_token: SECRET, max_connections: 40 });
}

async function flood(impl: Impl, job: JobOf<"webhook">, srv: ServerAddress): Promise<Metrics> {
  const bot = await fakeServerBot(srv, { count: job.updates, chats: 1, firstChatId: FLOOD_CHAT });
  bot.catch(noop);
  bot.use(sequentializeOf(impl));
  const log = new FairnessLog({
    kind: "fairness",
    flood: job.updates,
    quietGroups: job.quietGroups,
    quietPerGroup: job.quietPerGroup,
    quietIntervalMs: job.quietIntervalMs,
    handlerMs: job.handlerMs,
    concurrency: 500,
    capMs: job.capMs,
  });
  bot.use((ctx) => log.handle(ctx.update.update_id, ctx.chat?.id));
  const served = await serve(impl, bot, job.journal === true);
  const cpuBefore = process.cpuUsage();
  await setWebhook(bot, served.url);
  const quietTotal = job.quietGroups * job.quietPerGroup;
  await waitUntil(() => log.quietStarts.size === quietTotal, job.capMs);
  const measured = new Map(log.quietStarts);
  const cpu = process.cpuUsage(cpuBefore);
  const handledInWindow = log.handled;
  const connections = (await server({ cmd: "stats" })).webhookMaxConnections;
  fastForward();
  const drained = await waitUntil(() => log.handled >= job.updates + quietTotal, 60_000);
  const stats = await server({ cmd: "stats" });
  await served.stop();
  const pushed = (await log.quietPush) ?? [];
  const sorted = latencies(pushed, measured);
  // With a journal: push -> append (Telegram's queue for a connection, HTTP) and append -> start.
  const appended = [...served.appendedAt].filter(([id]) => measured.has(id));
  const toAppend = appended.length > 0 ? latencies(pushed, new Map(appended)) : [];
  const afterAppend = appended
    .map(([id, at]) => Math.max(0, (measured.get(id) ?? at) - at))
    .sort((a, b) => a - b);
  const stored = [...measured.keys()]
    .map((id) => served.storedAfter.get(id))
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  const split = (list: number[]) => (list.length > 0 ? percentile(list, 0.99) : Number.NaN);
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    quietStarted: measured.size,
    inOrder: log.inOrder && drained && log.lastFloodId === job.updates,
    resends: stats.webhookResends,
    maxConnections: connections,
    pushToAppendP99: split(toAppend),
    appendToStartP99: split(afterAppend),
    appendToStoredP99: split(stored),
    fsyncP50: served.fsync?.p50 ?? Number.NaN,
    fsyncP99: served.fsync?.p99 ?? Number.NaN,
    cpuPerUpdate: (cpu.user + cpu.system) / 1000 / Math.max(1, handledInWindow),
  };
}

async function slow(impl: Impl, job: JobOf<"webhook">, srv: ServerAddress): Promise<Metrics> {
  const bot = await fakeServerBot(srv, { count: job.updates, chats: job.chats, firstChatId: 1 });
  bot.catch(noop);
  let runs = 0;
  const finished = new Set<number>();
  bot.use(async (ctx) => {
    runs++;
    await pause(job.handlerMs);
    finished.add(ctx.update.update_id);
  });
  const served = await serve(impl, bot, job.journal === true);
  const startedAt = now();
  await setWebhook(bot, served.url);
  // Re-sends counted over the window; then the handlers are cut short.
  await new Promise((resolve) => setTimeout(resolve, job.capMs));
  const stats = await server({ cmd: "stats" });
  const done = finished.size;
  fastForward();
  await served.stop();
  return {
    resends: stats.webhookResends,
    duplicateRuns: runs - job.updates,
    answered: stats.webhookAnswered,
    handled: done,
    windowS: (now() - startedAt) / 1000,
  };
}

async function noopRate(impl: Impl, job: JobOf<"webhook">, srv: ServerAddress): Promise<Metrics> {
  const bot = await fakeServerBot(srv, { count: job.updates, chats: job.chats, firstChatId: 1 });
  bot.catch(noop);
  let handled = 0;
  bot.use(() => {
    handled++;
  });
  const served = await serve(impl, bot, job.journal === true);
  const startedAt = now();
  await setWebhook(bot, served.url);
  const done = await waitUntil(() => handled >= job.updates, job.capMs);
  const elapsed = now() - startedAt;
  const stats = await server({ cmd: "stats" });
  await served.stop();
  return {
    rate: done ? (job.updates / elapsed) * 1000 : Number.NaN,
    resends: stats.webhookResends,
  };
}

export function webhookJob(
  impl: Impl,
  job: JobOf<"webhook">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  if (srv === undefined) throw new Error("webhook jobs need the fake server");
  if (job.mode === "flood") return flood(impl, job, srv);
  if (job.mode === "slow") return slow(impl, job, srv);
  return noopRate(impl, job, srv);
}
