/** A signal we can read; both native signals and abort-controller's fit. */
export interface SignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * Waits `ms` milliseconds or until `signal` aborts, whichever comes first, so
 * that no backoff or pause can delay `stop()`. Never rejects.
 *
 * @returns `true` if the time elapsed, `false` if the wait was aborted
 */
export function sleep(ms: number, signal: SignalLike): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort);
  });
}
