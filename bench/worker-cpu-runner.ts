/**
 * Worker thread of the `workers-cpu` scenario for @grammyjs/runner's
 * `distribute()`: their `BotWorker` with the same ~1 ms CPU-bound handler.
 */
import { BotWorker } from "@grammyjs/runner";
import { burn, calibrate } from "./cpu-work.js";
import { WORKER_ENV } from "./protocol.js";

const rounds = Number(process.env[WORKER_ENV.rounds]) || calibrate(1);
const worker = new BotWorker(process.env[WORKER_ENV.token] ?? "0:bench");
worker.use(() => {
  burn(rounds);
});
