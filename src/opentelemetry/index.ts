/**
 * `grammy-runner/opentelemetry`: a runner's metrics through the
 * OpenTelemetry metrics API. Needs the optional peer dependency
 * `@opentelemetry/api`.
 *
 * @example
 * ```ts
 * import { recordRunnerMetrics } from "grammy-runner/opentelemetry";
 *
 * recordRunnerMetrics(run(bot)); // on the global MeterProvider
 * ```
 *
 * @module grammy-runner/opentelemetry
 */
export type { MetricsSource } from "../metrics/instruments.js";
export { type OpenTelemetryOptions, recordRunnerMetrics } from "../metrics/opentelemetry.js";
