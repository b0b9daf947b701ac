/**
 * The message protocol between `distribute()` (parent thread) and `BotWorker`
 * (worker thread). Both sides live in this package, but the worker file is
 * user code that may also talk over `parentPort`, so each side checks the shape
 * of what it receives and ignores anything that is not part of the protocol.
 */
import type { Update, UserFromGetMe } from "grammy/types";
import { isUpdateId } from "../util/update-id.js";

/**
 * Marks `workerData` as ours, so that a `BotWorker` constructed in a thread
 * that someone else started (with their own `workerData`) stays inert instead
 * of answering messages it does not understand.
 */
export const PROTOCOL = "grammy-runner/distribute@1";

/** `workerData` of every worker thread started by `distribute()`. */
export interface WorkerSeed {
  protocol: typeof PROTOCOL;
  /** The central bot's `ctx.me`, so the worker needs no `getMe` call. */
  me: UserFromGetMe | undefined;
  /** The URL of the worker file, which the thread imports. */
  file: string;
}

/**
 * `Symbol.for()` key of the global flag a `BotWorker` sets in its thread, so
 * that `distribute()` can tell a worker file that created none.
 */
export const BOT_WORKER_KEY = "grammy-runner.bot-worker";

/** Parent → worker: one update to handle. */
export interface UpdateMessage {
  update: Update;
  /** Read back from the central bot's journal (see `isReplayed()`): the copy loses that mark. */
  replayed?: true;
}

/**
 * Worker → parent, once the worker file has been imported (top-level awaits
 * included). Updates are held back until then, so that a worker which
 * crashes while starting does not take updates down with it.
 */
export interface ReadyMessage {
  ready: true;
}

/** What crosses the thread boundary of an error; the thrown value itself may not be cloneable. */
export interface SerializedError {
  message: string;
  stack?: string;
  name: string;
}

/** Worker → parent: the outcome of one update, keyed by `update_id`. */
export type ResultMessage =
  | { id: number; ok: true }
  | { id: number; ok: false; error: SerializedError };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

export function isWorkerSeed(value: unknown): value is WorkerSeed {
  return isRecord(value) && value.protocol === PROTOCOL;
}

export function isUpdateMessage(value: unknown): value is UpdateMessage {
  return isRecord(value) && isRecord(value.update) && isUpdateId(value.update.update_id);
}

export function isReadyMessage(value: unknown): value is ReadyMessage {
  return isRecord(value) && value.ready === true && Object.keys(value).length === 1;
}

export function isResultMessage(value: unknown): value is ResultMessage {
  if (!isRecord(value) || !isUpdateId(value.id)) return false;
  if (value.ok === true) return true;
  return value.ok === false && isRecord(value.error) && typeof value.error.message === "string";
}
