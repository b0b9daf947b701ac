/** A signal we can read; both native signals and abort-controller's fit. */
export interface SignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** Node fires longer timers after 1 ms, which would turn a long wait into a busy loop. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay `setTimeout` honours: `ms` clamped to 0..{@link MAX_TIMER_MS}.
 * A longer wait fires early (at the cap) instead of after 1 ms.
 */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
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
    let timer: ReturnType<typeof setTimeout>;
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const arm = (left: number) => {
      timer = setTimeout(
        () => {
          if (left > MAX_TIMER_MS) return arm(left - MAX_TIMER_MS);
          signal.removeEventListener("abort", onAbort);
          resolve(true);
        },
        Math.min(left, MAX_TIMER_MS),
      );
    };
    arm(ms);
    signal.addEventListener("abort", onAbort);
  });
}
