/** Waiting in a bot process: for conditions, for releases, and handler waits that can be cut short. */
import { setTimeout as delay } from "node:timers/promises";

/** A promise and the function that resolves it. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves when `condition` holds (checked every 5 ms), or after `capMs` with `false`. */
export async function waitUntil(condition: () => boolean, capMs: number): Promise<boolean> {
  const until = Date.now() + capMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await delay(5);
  }
  return true;
}

/**
 * Handler waits that can be cut short once a run has measured what it wants,
 * so that the rest (e.g. a sequential backlog) drains quickly.
 */
const sleepers = new Set<() => void>();
let fastForwarding = false;

export function pause(ms: number): Promise<void> {
  if (fastForwarding) return Promise.resolve();
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      sleepers.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    sleepers.add(wake);
  });
}

/** Ends every pause now and makes later ones return at once. */
export function fastForward(): void {
  fastForwarding = true;
  for (const wake of [...sleepers]) wake();
}
