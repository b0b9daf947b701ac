/**
 * grammy-runner: concurrent long polling for grammY bots, a drop-in
 * replacement for @grammyjs/runner.
 *
 * @example
 * ```ts
 * import { run, sequentialize } from "grammy-runner";
 *
 * bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
 * const handle = run(bot);
 * ```
 * @module grammy-runner
 */

export type {
  Cluster,
  ClusterContext,
  ClusterFetcher,
  ClusterMember,
  ClusterStats,
  WebhookClusterMember,
  WebhookClusterOptions,
} from "./cluster/cluster.js";
export { BotWorker } from "./distribute/bot-worker.js";
export {
  type DistributeMiddleware,
  type DistributeOptions,
  type DistributeStats,
  distribute,
  type WorkerStats,
} from "./distribute/distribute.js";
export type { BotAdapter } from "./fetch/bot-adapter.js";
export { createUpdateFetcher } from "./fetch/fetcher.js";
export type { FetchOptions, RunnerOptions } from "./fetch/options.js";
export { type FileJournalOptions, fileJournal } from "./journal/file-journal.js";
export { isReplayed, type JournalRecovery, type UpdateJournal } from "./journal/journal.js";
export { DecayingDeque, type DequeOptions } from "./runner/queue.js";
export {
  createRunner,
  type RunHandle,
  type RunnerHandle,
  type RunOptions,
  run,
} from "./runner/run.js";
export { sequentialize } from "./runner/sequentialize.js";
export {
  createBatchSink,
  createConcurrentSink,
  createSequentialSink,
  type SinkOptions,
  type UpdateConsumer,
  type UpdateSink,
} from "./runner/sink.js";
export {
  createSource,
  type SourceOptions,
  type UpdateSource,
  type UpdateSupplier,
} from "./runner/source.js";
export type { RunnerStats } from "./runner/stats.js";
export { HandlerTimeoutError, updateSignal } from "./runner/update-scope.js";
export { RunnerError, type RunnerErrorCode } from "./util/errors.js";
export type { RunnerObserver } from "./util/observe.js";
export type {
  ExpressLikeRequest,
  FastifyLikeReply,
  FastifyLikeRequest,
  HonoLikeContext,
  WebhookAdapters,
} from "./webhook/adapters.js";
export type { WebhookBot, WebhookCounters } from "./webhook/intake.js";
export type { WebhookOptions } from "./webhook/options.js";
export { BodyTooLargeError, type IncomingWebhook, type WebhookAnswer } from "./webhook/request.js";
export type { SetWebhookApi, SetWebhookOptions } from "./webhook/set-webhook.js";
export { type WebhookHandle, type WebhookStats, webhook } from "./webhook/webhook.js";
