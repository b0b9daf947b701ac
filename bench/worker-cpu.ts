/**
 * Worker thread of the `workers-cpu` scenario for grammy-runner's
 * `distribute()`: a `BotWorker` whose only handler burns ~1 ms of CPU.
 */
import { BotWorker } from "../src/index.js";
import { calibratedWork } from "./cpu-work.js";
import { WORKER_ENV } from "./protocol.js";

const work = calibratedWork();
const worker = new BotWorker(process.env[WORKER_ENV.token] ?? "0:bench");
worker.use(work);
