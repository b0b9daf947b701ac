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
