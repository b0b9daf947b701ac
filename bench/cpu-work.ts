/**
 * The CPU-bound handler of the `workers-cpu` scenario: sha256 hashing in a
 * loop, a fixed number of rounds per update, calibrated so that one update
 * costs about `workMs` of CPU on this machine.
 */
import { createHash } from "node:crypto";
import { WORKER_ENV } from "./protocol.js";

let sink = Buffer.alloc(32, 1);

/** Chained sha256 rounds: synchronous, no allocation beyond the digests. */
export function burn(rounds: number): void {
  let h = sink;
  for (let i = 0; i < rounds; i++) h = createHash("sha256").update(h).digest();
  sink = h;
}

/**
 * How many rounds take `workMs` of wall-clock time on an idle core: warm up,
 * then the median of 7 timed trials of ~20 ms each.
 */
export function calibrate(workMs: number): number {
  burn(5_000);
  let rounds = 256;
  for (;;) {
    const t0 = performance.now();
    burn(rounds);
    if (performance.now() - t0 >= 20) break;
    rounds *= 2;
  }
  const perMs: number[] = [];
  for (let trial = 0; trial < 7; trial++) {
    const t0 = performance.now();
    burn(rounds);
    perMs.push(rounds / (performance.now() - t0));
  }
  perMs.sort((a, b) => a - b);
  return Math.max(1, Math.round(perMs[3] * workMs));
}

/** Wall-clock ms that `rounds` take now, averaged over `times` calls. */
export function timeRounds(rounds: number, times: number): number {
  const t0 = performance.now();
  for (let i = 0; i < times; i++) burn(rounds);
  return (performance.now() - t0) / times;
}

/**
 * A worker thread's work for one update: the rounds the bot process
 * calibrated and passed on through the environment (calibrated here without).
 */
export function calibratedWork(): () => void {
  const rounds = Number(process.env[WORKER_ENV.rounds]) || calibrate(1);
  return () => burn(rounds);
}
