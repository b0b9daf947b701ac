import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { registerRunnerMetrics } from "../../src/prometheus/index.js";
import { failOnUnhandled, useFakeApi } from "../helpers/bot.js";
import { runScenario } from "./scenario.js";

const ctx = useFakeApi();
failOnUnhandled();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text exposition format: `# TYPE` lines and samples. */
function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP")) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      types.set(type[1], type[2]);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? "").matchAll(/(\w+)="([^"]*)"/g))
      labels[key] = value;
    const value = sample[3] === "+Inf" ? Infinity : Number(sample[3]);
    samples.push({ name: sample[1], labels, value });
  }
  return { types, samples };
}

function sampleOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1)
    throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

describe("grammy-runner/prometheus", () => {
  it("a scrape shows what the bot handled, with every handler duration in the histogram", async () => {
    const registry = new Registry();
    const run = await runScenario(ctx.api, (handle) => registerRunnerMetrics(handle, { registry }));
    const { types, samples } = parse(await registry.metrics());
    const p = "grammy_runner_";
    const handled = run.fetched + run.replayed;
    expect(sampleOf(samples, `${p}updates_fetched_total`)).toBe(run.fetched);
    expect(sampleOf(samples, `${p}updates_handled_total`)).toBe(handled);
    expect(sampleOf(samples, `${p}updates_failed_total`)).toBe(run.failed);
    expect(sampleOf(samples, `${p}updates_timed_out_total`)).toBe(run.timedOut);
    expect(sampleOf(samples, `${p}updates_replayed_total`)).toBe(run.replayed);
    expect(sampleOf(samples, `${p}updates_invalid_total`)).toBe(run.invalid);
    const stats = run.handle.stats();
    expect(sampleOf(samples, `${p}get_updates_calls_total`)).toBe(stats.getUpdatesCalls);
    expect(sampleOf(samples, `${p}get_updates_retries_total`)).toBe(0);
    expect(sampleOf(samples, `${p}updates_in_flight`)).toBe(0);
    expect(sampleOf(samples, `${p}updates_parked`)).toBe(0);
    expect(sampleOf(samples, `${p}slots_free`)).toBe(run.concurrency);

    expect(sampleOf(samples, `${p}handler_duration_seconds_count`)).toBe(handled);
    const inf = { le: "+Inf" };
    expect(sampleOf(samples, `${p}handler_duration_seconds_bucket`, inf)).toBe(handled);
    // Cumulative buckets; the slow handler (150 ms) is above the 0.1 s bound.
    const buckets = samples.filter((s) => s.name === `${p}handler_duration_seconds_bucket`);
    expect(buckets.map((b) => b.value)).toEqual(buckets.map((b) => b.value).sort((a, b) => a - b));
    expect(buckets.find((b) => b.labels.le === "0.1")?.value).toBeLessThan(handled);
    expect(sampleOf(samples, `${p}handler_duration_seconds_sum`)).toBeGreaterThan(0.15);

    // The fetch loop's calls are timed; the confirmation on stop is only counted.
    const ok = sampleOf(samples, `${p}get_updates_duration_seconds_count`, { outcome: "ok" });
    expect(ok).toBeGreaterThanOrEqual(2);
    expect(ok).toBeLessThanOrEqual(stats.getUpdatesCalls);
    expect(sampleOf(samples, `${p}journal_write_duration_seconds_count`)).toBe(run.journalAppends);
    expect(run.journalAppends).toBeGreaterThanOrEqual(3);

    for (const [name, type] of types) {
      if (name.endsWith("_total")) expect(type, name).toBe("counter");
      else if (name.endsWith("_seconds")) expect(type, name).toBe("histogram");
      else expect(type, name).toBe("gauge");
    }
    expect(types.size).toBe(14);
  });

  it("takes a prefix, refuses a second runner under the same names, and unregisters", async () => {
    const registry = new Registry();
    const run = await runScenario(ctx.api, () => {});
    const remove = registerRunnerMetrics(run.handle, { registry, prefix: "bot_a_" });
    expect(() => registerRunnerMetrics(run.handle, { registry, prefix: "bot_a_" })).toThrow(
      /already been registered/,
    );
    const { samples } = parse(await registry.metrics());
    expect(sampleOf(samples, "bot_a_updates_handled_total")).toBe(run.fetched + run.replayed);
    // Attached after the run: the histograms saw nothing, the counters see everything.
    expect(sampleOf(samples, "bot_a_handler_duration_seconds_count")).toBe(0);
    const other = registerRunnerMetrics(run.handle, { registry, prefix: "bot_b_" });
    expect(registry.getMetricsAsArray().length).toBe(28);
    remove();
    other();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  it("rejects bad arguments by name", () => {
    const handle = { stats: () => ({}) as never, observe: () => () => {} };
    expect(() => registerRunnerMetrics(undefined as never)).toThrow(/handle of run\(\)/);
    expect(() => registerRunnerMetrics({ stats: () => ({}) } as never)).toThrow(/handle.observe/);
    expect(() => registerRunnerMetrics(handle, { prefix: "1x" })).toThrow(/`prefix`/);
    expect(() => registerRunnerMetrics(handle, { registry: {} as never })).toThrow(/`registry`/);
    expect(() => registerRunnerMetrics(handle, { prefx: "a" } as never)).toThrow(/`prefix`/);
  });
});
