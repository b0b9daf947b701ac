/**
 * The implementations under test, driven the same way: grammy-runner's run(),
 * @grammyjs/runner's run() and bot.start().
 */
import { run as theirRun, sequentialize as theirSequentialize } from "@grammyjs/runner";
import { Bot, type Context, type Middleware } from "grammy";
import { createFetch } from "../../src/client/index.js";
import {
  type Cluster,
  run as ourRun,
  sequentialize as ourSequentialize,
  type RunHandle,
  type UpdateJournal,
} from "../../src/index.js";
import { type Impl, now, type ServerAddress, type ServerCommand } from "../protocol.js";
import { server } from "./rpc.js";
import { cpuMicros } from "./usage.js";

type PushMessages = Omit<Extract<ServerCommand, { cmd: "pushMessages" }>, "cmd">;

/**
 * A bot for the fake server, with `backlog` (if any) pushed there first and
 * `bot.init()` done, so that getMe is out of the way. With `fastClient`, its
 * API calls go through `createFetch()`.
 */
export async function fakeServerBot(
  srv: ServerAddress | undefined,
  backlog?: PushMessages,
  fastClient = false,
): Promise<Bot> {
  if (srv === undefined) throw new Error("this job needs the fake server");
  const client = fastClient ? { apiRoot: srv.url, fetch: createFetch() } : { apiRoot: srv.url };
  const bot = new Bot(srv.token, { client });
  if (backlog !== undefined) await server({ cmd: "pushMessages", ...backlog });
  await bot.init();
  return bot;
}

/** Counts getUpdates calls in grammY's API transformer and notes the time and CPU of the first one. */
export function probeGetUpdates(bot: Bot): { calls: number; firstAt: number; firstCpu: number } {
  const probe = { calls: 0, firstAt: 0, firstCpu: 0 };
  const called = (): void => {
    if (probe.calls++ === 0) {
      probe.firstAt = now();
      probe.firstCpu = cpuMicros();
    }
  };
  bot.api.config.use((prev, method, payload, signal) => {
    if (method === "getUpdates") called();
    return prev(method, payload, signal);
  });
  return probe;
}

function chatKey(ctx: Context): string {
  return String(ctx.chat?.id);
}

/** The implementation's own sequentialize, by chat. */
export function sequentializeOf(impl: Impl): Middleware<Context> {
  if (impl === "ours") return ourSequentialize(chatKey);
  if (impl === "runner") return theirSequentialize(chatKey);
  throw new Error(`no sequentialize for ${impl}`);
}

export interface Driver {
  /** The implementation's own stop: `handle.stop()` or `bot.stop()`. */
  stop(): Promise<void>;
  /** Resolves when the polling loop has ended (after `stop()`). */
  ended(): Promise<void>;
  /** Ours only: the handle of `run()`, for the metrics exporters. */
  handle?: RunHandle;
}

/** Starts polling with `impl`; `concurrency` is the sink's, `journal` and `cluster` ours only. */
export function start(
  impl: Impl,
  bot: Bot,
  concurrency?: number,
  journal?: UpdateJournal,
  cluster?: Cluster,
): Driver {
  const sink = concurrency === undefined ? undefined : { concurrency };
  if ((journal ?? cluster) !== undefined && impl !== "ours")
    throw new Error(`no journal or cluster for ${impl}`);
  switch (impl) {
    case "ours": {
      const handle = ourRun(bot, { runner: { silent: true }, sink, journal, cluster });
      return { stop: () => handle.stop(), ended: async () => void (await handle.task()), handle };
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

/** Stops the driver and waits for its polling loop to end. */
export async function stopAndEnd(driver: Driver): Promise<void> {
  await driver.stop();
  await driver.ended();
}
