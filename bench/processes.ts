/**
 * One measured run: a fresh fake-server process (if the scenario needs one)
 * and a fresh bot process, whose requests to the server go through here.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { noop } from "../src/util/noop.js";
import { options } from "./args.js";
import { OUT_DIR } from "./paths.js";
import {
  type BotReport,
  type BotTask,
  JOB_ENV,
  type Metrics,
  type RpcReply,
  type RpcRequest,
  type ServerAddress,
  type ServerReady,
} from "./protocol.js";
import type { Column, Scenario } from "./scenarios/scenario.js";

type Result = { ok: true; metrics: Metrics } | { ok: false; reason: string };

export type Outcome = Result & { forcedExit: boolean; seconds: number };

class RunTimeout extends Error {}

/** Extra Node.js flags for the bot processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const BOT_EXEC_ARGV = (process.env.BENCH_BOT_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");

/** What starts the bot processes instead of node, e.g. a wrapper running it under valgrind. */
const BOT_EXEC = process.env.BENCH_BOT_EXEC;

/** How long the processes get to exit on their own after a run. */
const EXIT_GRACE_MS = 5_000;

/** Processes of the run in progress, killed if the bench is interrupted. */
const live = new Set<ChildProcess>();

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill("SIGKILL");
    process.exit(130);
  });
}

/** The processes of one run, killed together or awaited together. */
class RunProcesses {
  private readonly children: ChildProcess[] = [];
  private readonly exits: Promise<void>[] = [];

  fork(file: string, env?: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
    const child = fork(join(OUT_DIR, file), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced",
      execArgv: file === "bot.mjs" ? [...BOT_EXEC_ARGV, ...nodeArgs] : [],
      ...(file === "bot.mjs" && BOT_EXEC !== undefined ? { execPath: BOT_EXEC } : {}),
      env: env ?? process.env,
    });
    this.children.push(child);
    live.add(child);
    // e.g. EPIPE when sending to a process that was just killed
    child.on("error", noop);
    this.exits.push(
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once("exit", () => resolve());
      }),
    );
    return child;
  }

  killAll(): void {
    for (const child of this.children) child.kill("SIGKILL");
  }

  /** Waits for every process to exit, killing those still there after the grace; true if any was. */
  async ended(): Promise<boolean> {
    let forced = false;
    const grace = new Promise<"late">((resolve) =>
      setTimeout(() => resolve("late"), EXIT_GRACE_MS).unref(),
    );
    if ((await Promise.race([Promise.all(this.exits), grace])) === "late") {
      forced = true;
      for (const child of this.children)
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await Promise.all(this.exits);
    }
    for (const child of this.children) live.delete(child);
    return forced;
  }
}

/** Rejects with a RunTimeout after `ms` unless cleared first. */
function deadlineAfter(ms: number): { expired: Promise<never>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RunTimeout()), ms);
  });
  expired.catch(noop);
  return { expired, clear: () => clearTimeout(timer) };
}

interface Server {
  child: ChildProcess;
  address: ServerAddress;
}

async function startServer(processes: RunProcesses, deadline: Promise<never>): Promise<Server> {
  const child = processes.fork("server.mjs");
  const ready = await Promise.race([
    new Promise<ServerReady>((resolve, reject) => {
      child.on("message", (m: ServerReady) => {
        if (m.type === "ready") resolve(m);
      });
      child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening`)));
    }),
    deadline,
  ]);
  return { child, address: { url: ready.url, token: ready.token } };
}

/** The bot's report, relaying its requests to the server (and the replies back) meanwhile. */
function reportOf(bot: ChildProcess, server: ChildProcess | undefined): Promise<BotReport> {
  server?.on("message", (m: RpcReply) => {
    if (m.type === "rpc-reply" && bot.connected) bot.send(m);
  });
  return new Promise<BotReport>((resolve) => {
    bot.on("message", (m: RpcRequest | BotReport) => {
      if (m.type === "rpc") {
        if (server?.connected) server.send(m);
        else if (bot.connected)
          bot.send({ type: "rpc-reply", id: m.id, error: "no server" } satisfies RpcReply);
      } else resolve(m);
    });
    bot.once("exit", (code, signal) =>
      resolve({
        type: "error",
        message: `bot process exited (${code ?? signal}) without a report`,
      }),
    );
  });
}

async function runBot(
  processes: RunProcesses,
  task: BotTask,
  nodeArgs: string[] | undefined,
  server: ChildProcess | undefined,
  deadline: Promise<never>,
): Promise<Result> {
  const env = { ...process.env, [JOB_ENV]: JSON.stringify(task) };
  const bot = processes.fork("bot.mjs", env, nodeArgs);
  const report = await Promise.race([reportOf(bot, server), deadline]);
  if (report.type === "result") return { ok: true, metrics: report.metrics };
  console.error(report.message);
  return { ok: false, reason: `error: ${report.message.split("\n")[0]}` };
}

/** Runs `column` of `scenario` once, in fresh processes, within the scenario's time limit. */
export async function runOnce(scenario: Scenario, column: Column): Promise<Outcome> {
  const began = performance.now();
  const processes = new RunProcesses();
  const deadline = deadlineAfter(options.timeoutMs ?? scenario.timeoutMs);
  let result: Result;
  let server: Server | undefined;
  let killed = false;
  try {
    if (scenario.needsServer) server = await startServer(processes, deadline.expired);
    const task: BotTask = { impl: column.impl, job: scenario.job(column), server: server?.address };
    result = await runBot(processes, task, scenario.botNodeArgs, server?.child, deadline.expired);
  } catch (error) {
    result = { ok: false, reason: error instanceof RunTimeout ? "timeout" : `error: ${error}` };
    killed = true;
    processes.killAll();
  } finally {
    deadline.clear();
  }
  // Clean exit: the server closes (ending the bot's keep-alive sockets) and both processes end.
  if (!killed && server?.child.connected) server.child.send({ type: "close" });
  const forcedExit = await processes.ended();
  const seconds = (performance.now() - began) / 1000;
  return { ...result, forcedExit, seconds };
}
