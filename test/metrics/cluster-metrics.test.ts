import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { MetricsStats } from "../../src/metrics/instruments.js";
import { registerRunnerMetrics } from "../../src/prometheus/index.js";

/** A handle's stats as a cluster replica reports them, without Redis. */
function source(cluster: MetricsStats["cluster"]) {
  const stats = {
    fetched: 0,
    handled: 0,
    failed: 0,
    timedOut: 0,
    inFlight: 0,
    parked: 0,
    slotsFree: 500,
    replayed: 0,
    getUpdatesCalls: 0,
    retries: 0,
    invalidUpdates: 0,
    lastError: undefined,
    p50: 0,
    p99: 0,
    cluster,
  } as unknown as MetricsStats;
  return { stats: () => stats, observe: () => () => {} };
}

describe("cluster metrics", () => {
  it("shows role, partitions held, stream lag, takeovers and replays of a replica", async () => {
    const registry = new Registry();
    const cluster = {
      role: "leader" as const,
      partitions: [0, 3, 5],
      lag: 42,
      takeovers: 2,
      replayed: 7,
      written: 100,
      storeError: undefined,
    };
    registerRunnerMetrics(source(cluster), { registry });
    const text = await registry.metrics();
    expect(text).toMatch(/^grammy_runner_cluster_leader 1$/m);
    expect(text).toMatch(/^grammy_runner_cluster_partitions_held 3$/m);
    expect(text).toMatch(/^grammy_runner_cluster_stream_lag 42$/m);
    expect(text).toMatch(/^grammy_runner_cluster_takeovers_total 2$/m);
    expect(text).toMatch(/^grammy_runner_cluster_replayed_total 7$/m);
  });

  it("registers no cluster series for a runner outside a cluster", async () => {
    const registry = new Registry();
    registerRunnerMetrics(source(undefined), { registry });
    const text = await registry.metrics();
    expect(text).toContain("grammy_runner_slots_free 500");
    expect(text).not.toContain("cluster");
  });
});
