/**
 * Worker thread of the `workers-cpu` floor: no grammY, no runner, just the
 * same CPU-bound work per message, answered with the message's id. Shows
 * how far N threads scale on this machine at the time of the run.
 */
import { parentPort } from "node:worker_threads";
import { calibratedWork } from "./cpu-work.js";

const work = calibratedWork();
parentPort?.on("message", (id: number) => {
  work();
  parentPort?.postMessage(id);
});
