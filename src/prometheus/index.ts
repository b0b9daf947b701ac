/**
 * `grammy-runner/prometheus`: a runner's metrics on a prom-client registry.
 * Needs the optional peer dependency `prom-client`.
 *
 * @example
 * ```ts
 * import { registerRunnerMetrics } from "grammy-runner/prometheus";
 *
 * registerRunnerMetrics(run(bot)); // on prom-client's global registry
 * ```
 *
 * @module grammy-runner/prometheus
 */
export type { MetricsSource } from "../metrics/instruments.js";
export { type PrometheusOptions, registerRunnerMetrics } from "../metrics/prometheus.js";
