/** A promise the test settles by hand, for handlers it holds and releases. */
export interface Gate {
  promise: Promise<void>;
  open: () => void;
  fail: (error: unknown) => void;
}

export function gate(): Gate {
  let open!: () => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/**
 * Numbered tasks that each wait for their own gate: `run(n)` as a queue worker
 * or sink consumer, `open(n)` to let task `n` finish. Records start and finish
 * order and the most tasks running at once.
 */
export function gatedTasks(): {
  started: number[];
  finished: number[];
  gates: Map<number, Gate>;
  run: (n: number) => Promise<void>;
  open: (n: number) => void;
  running: () => number;
  maxRunning: () => number;
} {
  const started: number[] = [];
  const finished: number[] = [];
  const gates = new Map<number, Gate>();
  let running = 0;
  let max = 0;
  return {
    started,
    finished,
    gates,
    running: () => running,
    maxRunning: () => max,
    open: (n) => {
      const g = gates.get(n);
      if (g === undefined) throw new Error(`task ${n} has not started`);
      g.open();
    },
    run: async (n) => {
      started.push(n);
      running++;
      max = Math.max(max, running);
      const g = gate();
      gates.set(n, g);
      try {
        await g.promise;
        finished.push(n);
      } finally {
        running--;
      }
    },
  };
}

/** Lets every pending promise callback run (setImmediate is never faked in these tests). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Waits until `predicate` holds, checking every few milliseconds; for state the
 * fake server does not see (handler counters). Fails with the predicate's text.
 */
export async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`until(): not met in ${timeoutMs} ms: ${predicate}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
