/**
 * Worker thread of the `workers-cpu` floor: no grammY, no runner, just the
 * same CPU-bound work per message, answered with the message's id. Shows
 * how far N threads scale on this machine at the time of the run.
 */
import { parentPort } from "node:worker_threads";
import { burn, calibrate } from "./cpu-work.js";
import { WORKER_ENV } from "./protocol.js";

const rounds = Number(process.env[WORKER_ENV.rounds]) || calibrate(1);
parentPort?.on("message", (id: number) => {
  burn(rounds);
  parentPort?.postMessage(id);
});
