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
 * @module
 */
export { HandlerTimeoutError, updateSignal } from "./context.js";
export {
  type DistributeMiddleware,
  type DistributeOptions,
  type DistributeStats,
  distribute,
  type WorkerStats,
} from "./distribute.js";
export { RunnerError, type RunnerErrorCode } from "./errors.js";
export {
  type BotAdapter,
  createUpdateFetcher,
  type FetchOptions,
  type RunnerOptions,
} from "./fetcher.js";
export {
  type FileJournalOptions,
  fileJournal,
  isReplayed,
  type JournalRecovery,
  type UpdateJournal,
} from "./journal.js";
export { DecayingDeque, type DequeOptions } from "./queue.js";
export {
  createRunner,
  type RunHandle,
  type RunnerHandle,
  type RunOptions,
  run,
} from "./runner.js";
export { sequentialize } from "./sequentialize.js";
export {
  createBatchSink,
  createConcurrentSink,
  createSequentialSink,
  type SinkOptions,
  type UpdateConsumer,
  type UpdateSink,
} from "./sink.js";
export {
  createSource,
  type SourceOptions,
  type UpdateSource,
  type UpdateSupplier,
} from "./source.js";
export type { RunnerStats } from "./stats.js";
export { BotWorker } from "./worker.js";
