/**
 * What the bench processes tell each other. The orchestrator (`main.ts`) forks
 * one fake Bot API server (`server.ts`) and one bot process (`bot.ts`) per
 * measured run and relays the bot's requests to the server over IPC.
 */

/**
 * The implementations measured, plus `floor` for the no-runner baselines.
 */
export type Impl = "ours" | "runner" | "start" | "floor";

export const IMPL_LABELS: Record<Impl, string> = {
  ours: "grammy-runner",
  runner: "@grammyjs/runner",
  start: "bot.start()",
  floor: "grammY alone",
};

/** A clock that both processes share (ms since the epoch, sub-ms resolution). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export type Job =
  | {
      kind: "throughput";
      updates: number;
      chats: number;
      /** Handler time; 0 for a no-op handler. */
      delayMs: number;
      seq: boolean;
      /** Every update is answered with `ctx.reply` (and counted once that resolves). */
      reply?: boolean;
      /** The bot's API calls go through `createFetch()` from grammy-runner/fetch. */
      fastClient?: boolean;
      /** Ours only: `run(bot, { journal: fileJournal(fresh temp dir) })`. */
      journal?: boolean;
      /** Ours only: `run(bot, { cluster: redisCluster(...) })`, 1 replica, Redis at REDIS_URL. */
      cluster?: boolean;
      /** Ours only: this exporter records the runner's metrics (see jobs/exporters.ts). */
      exporter?: "prometheus" | "opentelemetry";
      /**
       * Before the run, time what the journal cannot avoid per batch: writing
       * `syncFloorBytes` into preallocated space of a file on the journal's
       * disk and fdatasyncing it.
       */
      syncFloorBytes?: number;
    }
  | { kind: "handle-update-floor"; updates: number; chats: number }
  | { kind: "get-updates-floor"; updates: number; chats: number }
  | {
      kind: "fairness";
      flood: number;
      quietGroups: number;
      quietPerGroup: number;
      quietIntervalMs: number;
      handlerMs: number;
      concurrency: number;
      /** Longest wait for the quiet chats' handlers; later ones count as "> cap". */
      capMs: number;
    }
  | { kind: "stop"; handlers: number; handlerMs: number; stopAfterMs: number }
  | {
      kind: "memory";
      /** Updates held in flight at once; also the sink's concurrency. */
      updates: number;
      /** All in one chat behind sequentialize (one runs, the rest wait); else a chat each. */
      oneChat: boolean;
      /** Wait between the last update reaching the bot and the reading. */
      settleMs: number;
    }
  | {
      kind: "webhook";
      /**
       * flood: one chat floods, then quiet chats send one each; slow: every
       * handler takes `handlerMs`; noop: throughput of no-op handlers.
       */
      mode: "flood" | "slow" | "noop";
      /** Ours only: `webhook(bot, { journal: fileJournal(fresh temp dir) })`. */
      journal?: boolean;
      /** Updates pushed before the webhook is set (the flood chat's, in flood mode). */
      updates: number;
      chats: number;
      quietGroups: number;
      quietPerGroup: number;
      quietIntervalMs: number;
      handlerMs: number;
      /** flood: longest wait for the quiet chats; slow: how long re-sends are counted. */
      capMs: number;
    }
  | {
      kind: "cluster";
      /** failover: SIGKILL the leader of 3 replicas `kills` times; scale: `replicas` share CPU-bound work. */
      mode: "failover" | "scale";
      replicas: number;
      leaseMs: number;
      kills: number;
      updates: number;
      chats: number;
      /** Synchronous CPU work per update in ms (calibrated), scale only. */
      workMs: number;
    }
  | {
      kind: "workers";
      updates: number;
      chats: number;
      /** Worker threads of `distribute()`. */
      count: number;
      /** Synchronous CPU work per update in the worker, in ms (calibrated). */
      workMs: number;
      /** Updates handled (in chats of their own) before the measurement starts. */
      warmup: number;
      /** The central run()'s sink concurrency; its default (500) if absent. */
      concurrency?: number;
    };

/** Environment of the worker threads (inherited from the bot process). */
export const WORKER_ENV = {
  /** The fake server's token, for the workers' `BotWorker`. */
  token: "BENCH_WORKER_TOKEN",
  /** sha256 rounds per update, calibrated by the bot process. */
  rounds: "BENCH_WORKER_ROUNDS",
} as const;

/** The environment variable that carries a bot process's task. */
export const JOB_ENV = "BENCH_JOB";

/** One kind of job, e.g. `JobOf<"fairness">`. */
export type JobOf<K extends Job["kind"]> = Extract<Job, { kind: K }>;

/** Where the fake server listens, and the token it answers to. */
export interface ServerAddress {
  url: string;
  token: string;
}

export interface BotTask {
  impl: Impl;
  job: Job;
  /** The fake server, absent for jobs that need none. */
  server?: ServerAddress;
}

/** A metric's value: a number (Infinity: censored, above a cap), a yes/no, or text. */
export type Value = number | boolean | string;

export type Metrics = Record<string, Value>;

// === Server commands

export type ServerCommand =
  | { cmd: "pushMessages"; count: number; chats: number; firstChatId: number }
  | {
      cmd: "pushQuiet";
      groups: number;
      perGroup: number;
      intervalMs: number;
      firstChatId: number;
    }
  | { cmd: "stats" };

export interface ServerStats {
  getUpdatesCalls: number;
  confirmedOffset: number;
  delivered: number;
  redelivered: number;
  pending: number;
  webhookDeliveries: number;
  webhookResends: number;
  webhookAnswered: number;
  /** Most webhook requests open at once (Telegram's max_connections bounds it). */
  webhookMaxConnections: number;
  /** TCP connections the server has accepted so far. */
  connections: number;
}

export interface ServerReplies {
  pushMessages: { firstId: number; lastId: number };
  /** `[update_id, pushed at]` pairs on the shared clock. */
  pushQuiet: Array<[number, number]>;
  stats: ServerStats;
}

// === Messages

/** Bot -> orchestrator -> server, and back. */
export interface RpcRequest {
  type: "rpc";
  id: number;
  command: ServerCommand;
}

export interface RpcReply {
  type: "rpc-reply";
  id: number;
  result?: unknown;
  error?: string;
}

/** Orchestrator -> server. */
export interface CloseRequest {
  type: "close";
}

/** Server -> orchestrator, once listening. */
export interface ServerReady {
  type: "ready";
  url: string;
  token: string;
}

/** Bot -> orchestrator, once per run. */
export type BotReport = { type: "result"; metrics: Metrics } | { type: "error"; message: string };
