/**
 * memory: what each in-flight update costs. Every handler awaits one promise
 * that is released only after the reading, so all the updates are held at
 * once, either running (a chat each) or, in one chat behind sequentialize,
 * waiting for their turn. The baseline is read before the runner starts.
 */
import { setTimeout as delay } from "node:timers/promises";
import { noop } from "../../src/util/noop.js";
import type { Impl, JobOf, Metrics, ServerAddress } from "../protocol.js";
import { fakeServerBot, sequentializeOf, start, stopAndEnd } from "./implementations.js";
import { memoryAfterGc, peakRssMb } from "./usage.js";
import { deferred, waitUntil } from "./waits.js";

export async function memory(
  impl: Impl,
  job: JobOf<"memory">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  const total = job.updates;
  const chats = job.oneChat ? 1 : total;
  const bot = await fakeServerBot(srv, { count: total, chats, firstChatId: 1 });
  bot.catch(noop);
  let arrived = 0;
  let started = 0;
  let finished = 0;
  const released = deferred();
  // In front of sequentialize, so that updates waiting for their turn are counted too.
  bot.use((_ctx, next) => {
    arrived++;
    return next();
  });
  if (job.oneChat) bot.use(sequentializeOf(impl));
  bot.use(async () => {
    started++;
    await released.promise;
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
    released.resolve();
    await waitUntil(() => finished === arrived, 30_000);
    await stopAndEnd(driver);
  }
}
