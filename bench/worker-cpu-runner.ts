/**
 * Worker thread of the `workers-cpu` scenario for @grammyjs/runner's
 * `distribute()`: their `BotWorker` with the same ~1 ms CPU-bound handler.
 */
import { BotWorker } from "@grammyjs/runner";
import { calibratedWork } from "./cpu-work.js";
import { WORKER_ENV } from "./protocol.js";

const work = calibratedWork();
const worker = new BotWorker(process.env[WORKER_ENV.token] ?? "0:bench");
worker.use(work);
