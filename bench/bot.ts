/**
 * One measured run: a real grammY bot driven by one implementation (ours,
 * @grammyjs/runner or `bot.start()`) against the fake server in another
 * process. Started by `main.ts` with the task in `BENCH_JOB`; runs the job
 * (one file each in `jobs/`), reports its metrics over IPC and exits.
 */
import { clusterJob } from "./jobs/cluster.js";
import { fairness } from "./jobs/fairness.js";
import { getUpdatesFloor } from "./jobs/get-updates-floor.js";
import { handleUpdateFloor } from "./jobs/handle-update-floor.js";
import { memory } from "./jobs/memory.js";
import { stopJob } from "./jobs/stop.js";
import { throughput } from "./jobs/throughput.js";
import { webhookJob } from "./jobs/webhook.js";
import { workers } from "./jobs/workers.js";
import { type BotReport, type BotTask, JOB_ENV, type Metrics } from "./protocol.js";

async function execute(task: BotTask): Promise<Metrics> {
  const { impl, job, server: srv } = task;
  switch (job.kind) {
    case "throughput":
      return throughput(impl, job, srv);
    case "handle-update-floor":
      return handleUpdateFloor(job);
    case "get-updates-floor":
      return getUpdatesFloor(job, srv);
    case "fairness":
      return fairness(impl, job, srv);
    case "stop":
      return stopJob(impl, job, srv);
    case "memory":
      return memory(impl, job, srv);
    case "workers":
      return workers(impl, job, srv);
    case "webhook":
      return webhookJob(impl, job, srv);
    case "cluster":
      return clusterJob(job, srv);
  }
}

const raw = process.env[JOB_ENV];
if (raw === undefined) throw new Error(`${JOB_ENV} is not set: this file is started by main.ts`);
const task = JSON.parse(raw) as BotTask;
/** @grammyjs/runner's distribute() has no close: its worker threads stay referenced for good. */
const exitAfterReport = task.job.kind === "workers" && task.impl === "runner";

function report(message: BotReport): void {
  process.send?.(message, () => {
    process.disconnect?.();
    // End the threads that would keep the process alive with the process.
    if (exitAfterReport) process.exit(0);
  });
}

execute(task).then(
  (metrics) => report({ type: "result", metrics }),
  (error: unknown) =>
    report({
      type: "error",
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    }),
);
