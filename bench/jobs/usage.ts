/** What a bot process measures about itself: CPU time, memory, wall time. */
import { now } from "../protocol.js";

export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Heap and RSS in bytes after full garbage collections; needs `node --expose-gc`. */
export function memoryAfterGc(): { heap: number; rss: number } {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error("this job needs the bot process to run with --expose-gc");
  // The second pass takes what the first one's weak references and finalizers let go.
  gc();
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss };
}

/** Wall time (on the shared clock) and CPU time of this process since a start. */
export interface Span {
  seconds: number;
  /** User + system CPU, µs. */
  cpu: number;
}

/** Starts a span now; call the result to read it. */
export function startSpan(): () => Span {
  const t0 = now();
  const cpu0 = cpuMicros();
  return () => ({ seconds: (now() - t0) / 1000, cpu: cpuMicros() - cpu0 });
}
