/**
 * fairness: one chat floods behind sequentialize, then quiet chats send one
 * update each; how long do they wait for their handlers to start?
 */
import { noop } from "../../src/util/noop.js";
import { type Impl, type JobOf, type Metrics, now, type ServerAddress } from "../protocol.js";
import { percentile } from "../stats.js";
import {
  fakeServerBot,
  probeGetUpdates,
  sequentializeOf,
  start,
  stopAndEnd,
} from "./implementations.js";
import { server } from "./rpc.js";
import { fastForward, pause, waitUntil } from "./waits.js";

export const FLOOD_CHAT = 1;
const FIRST_QUIET_CHAT = 1001;

/** The handlers' record: when each quiet update started, and whether the flood kept its order. */
export class FairnessLog {
  handled = 0;
  inOrder = true;
  lastFloodId = 0;
  quietPush: Promise<Array<[number, number]>> | undefined;
  readonly quietStarts = new Map<number, number>();
  private floodRunning = 0;

  constructor(private readonly job: JobOf<"fairness">) {}

  /** The handler: the quiet chats are pushed once the first flood update runs. */
  async handle(update_id: number, chat: number | undefined): Promise<void> {
    const at = now();
    const flood = chat === FLOOD_CHAT;
    if (flood) {
      // Flood updates have ids 1..flood and must run one at a time, in that order.
      if (this.floodRunning > 0 || update_id !== this.lastFloodId + 1) this.inOrder = false;
      this.floodRunning++;
      this.lastFloodId = update_id;
      this.quietPush ??= server({
        cmd: "pushQuiet",
        groups: this.job.quietGroups,
        perGroup: this.job.quietPerGroup,
        intervalMs: this.job.quietIntervalMs,
        firstChatId: FIRST_QUIET_CHAT,
      });
    } else {
      this.quietStarts.set(update_id, at);
    }
    try {
      await pause(this.job.handlerMs);
    } finally {
      if (flood) this.floodRunning--;
      this.handled++;
    }
  }
}

/** Push to handler start, ms, per quiet update (sorted); Infinity for those not started in time. */
export function latencies(pushed: Array<[number, number]>, started: Map<number, number>): number[] {
  const list: number[] = [];
  for (const [id, at] of pushed) {
    const start = started.get(id);
    list.push(start === undefined ? Number.POSITIVE_INFINITY : Math.max(0, start - at));
  }
  return list.sort((a, b) => a - b);
}

export async function fairness(
  impl: Impl,
  job: JobOf<"fairness">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  const bot = await fakeServerBot(srv, { count: job.flood, chats: 1, firstChatId: FLOOD_CHAT });
  const probe = probeGetUpdates(bot);
  const quietTotal = job.quietGroups * job.quietPerGroup;
  const total = job.flood + quietTotal;
  bot.catch(noop);
  bot.use(sequentializeOf(impl));
  const log = new FairnessLog(job);
  bot.use((ctx) => log.handle(ctx.update.update_id, ctx.chat?.id));

  const driver = start(impl, bot, job.concurrency);
  const startedAt = Date.now();
  await waitUntil(() => log.quietStarts.size === quietTotal, job.capMs);
  const quietWait = Date.now() - startedAt;
  // Starts after the cap count as "> cap", even once the backlog drains.
  const measured = new Map(log.quietStarts);
  // Measured: let the backlog drain without the 10 ms waits.
  fastForward();
  const drained = await waitUntil(() => log.handled === total, 15_000);
  const calls = probe.calls;
  const handledAtEnd = log.handled;
  await stopAndEnd(driver);
  const sorted = latencies((await log.quietPush) ?? [], measured);
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1],
    quietStarted: measured.size,
    inOrder: log.inOrder && drained && log.lastFloodId === job.flood,
    calls: (calls / Math.max(1, handledAtEnd)) * 1000,
    wait: quietWait,
  };
}
