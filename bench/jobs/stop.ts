/** stop: handlers are running when stop is called; which finish, which are confirmed? */
import { setTimeout as delay } from "node:timers/promises";
import { noop } from "../../src/util/noop.js";
import { type Impl, type JobOf, type Metrics, now, type ServerAddress } from "../protocol.js";
import { fakeServerBot, start } from "./implementations.js";
import { server } from "./rpc.js";
import { deferred, fastForward, pause, waitUntil } from "./waits.js";

export async function stopJob(
  impl: Impl,
  job: JobOf<"stop">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  const bot = await fakeServerBot(srv, {
    count: job.handlers,
    chats: job.handlers,
    firstChatId: 1,
  });
  bot.catch(noop);
  let started = 0;
  let finished = 0;
  const firstStart = deferred();
  bot.use(async () => {
    if (started++ === 0) firstStart.resolve();
    await pause(job.handlerMs);
    finished++;
  });

  const driver = start(impl, bot);
  await firstStart.promise;
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
