/**
 * The intake of a webhook replica in a cluster: a request's update is stored
 * in the cluster's streams (dropped there if any replica stored it already)
 * and answered 200 once stored; this replica's share of the streams is
 * handled by `run()`'s consumer, through the same sink as polling.
 */
import type { Cluster, WebhookClusterMember } from "../cluster/cluster.js";
import type { BotAdapter } from "../fetch/bot-adapter.js";
import { type RunHandle, run } from "../runner/run.js";
import type { SinkOptions } from "../runner/sink.js";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { RecentIds } from "../util/recent-ids.js";
import { checkRequest, type RequestGate, requestGate } from "./checks.js";
import { newCounters, UNAVAILABLE, type WebhookBot } from "./intake.js";
import type { ValidWebhookOptions } from "./options.js";
import { answer, type IncomingWebhook, type WebhookAnswer } from "./request.js";

const log = logger("webhook");

const OK = answer(200, "");

/** The engine behind `webhook(bot, { cluster })`. */
export class ClusterIntake<Y extends { update_id: number }, R> {
  readonly counters = newCounters();
  lastError: string | undefined;
  /** Consumes this replica's partitions: the runner's source, sink and stop. */
  readonly runner: RunHandle;
  private readonly member: WebhookClusterMember<Y>;
  private readonly gate: RequestGate;
  private readonly recent: RecentIds;
  /** Updates being stored: a re-send to this replica waits for the outcome. */
  private readonly storing = new Map<number, Promise<boolean>>();
  private readonly life = new AbortController();
  private finishing: Promise<void> | undefined;

  constructor(
    bot: WebhookBot<Y, R>,
    options: ValidWebhookOptions<Y>,
    cluster: Cluster,
    sink: SinkOptions<Y> | undefined,
  ) {
    this.recent = new RecentIds(options.dedupWindow);
    this.gate = requestGate(options, this.counters, this);
    let member: WebhookClusterMember<Y> | undefined;
    const join = cluster.joinWebhook?.bind(cluster);
    if (join === undefined) throw new TypeError("The cluster cannot take webhook replicas.");
    // No getUpdates: the member's supply reads the partitions, never Telegram.
    this.runner = run(bot as unknown as BotAdapter<Y, R>, {
      sink,
      runner: { silent: options.silent },
      cluster: {
        join: <T extends { update_id: number }>(context: Parameters<Cluster["join"]>[0]) => {
          const joined = join<T>(context as never, { dedupWindow: options.dedupWindow });
          member = joined as unknown as WebhookClusterMember<Y>;
          return joined;
        },
      },
    });
    if (member === undefined) throw new Error("run() did not join the cluster");
    this.member = member;
  }

  get running(): boolean {
    return this.finishing === undefined && this.runner.isRunning();
  }

  async receive(req: IncomingWebhook): Promise<WebhookAnswer> {
    const checked = await checkRequest(req, this.gate);
    if ("answer" in checked) return checked.answer;
    const update = checked.update as Y;
    const id = update.update_id;
    const earlier = this.storing.get(id);
    if (this.recent.has(id) || earlier !== undefined) {
      this.counters.duplicates++;
      return (await (earlier ?? true)) ? OK : this.refuse();
    }
    const stored = this.store(update);
    this.storing.set(id, stored);
    try {
      return (await stored) ? OK : this.refuse();
    } finally {
      this.storing.delete(id);
    }
  }

  /** Stops taking updates (503), waits for the stores under way, then stops the consumer. */
  stop(): Promise<void> {
    this.finishing ??= this.shutdown();
    return this.finishing.then(noop, noop);
  }

  task(): Promise<void> | undefined {
    return this.finishing ?? (this.runner.isRunning() ? undefined : this.runner.task());
  }

  /** Whether `update` is in the cluster now (stored here or before); `false` to refuse it. */
  private async store(update: Y): Promise<boolean> {
    try {
      const [isNew] = await this.member.store([update], this.life.signal);
      this.recent.add(update.update_id);
      if (isNew) this.counters.accepted++;
      else this.counters.duplicates++;
      return true;
    } catch (error) {
      if (this.life.signal.aborted) return false;
      this.counters.clusterErrors++;
      this.lastError = describeError(error);
      log(`the cluster failed to store update ${update.update_id}: ${this.lastError}`);
      return false;
    }
  }

  /** Answers 503 (counted): Telegram sends the update again later. */
  refuse(): WebhookAnswer {
    this.counters.refused++;
    return UNAVAILABLE;
  }

  private async shutdown(): Promise<void> {
    this.life.abort();
    await Promise.allSettled([...this.storing.values()]);
    await this.runner.stop();
    await this.runner.task();
  }
}
