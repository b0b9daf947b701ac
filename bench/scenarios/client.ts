/**
 * client-*: the throughput job with grammY's default client and with
 * createFetch() (grammy-runner/fetch), no-op or answering every update.
 */
import { options } from "../args.js";
import { type Column, int, metric, type RatioDef, type Scenario } from "./scenario.js";
import { CHATS, THROUGHPUT_METRICS, UPDATES } from "./throughput.js";

const { quick } = options;

const CONNECTIONS = metric("connections", "connections opened", int);
const PEAK_REPLYING = metric("peakReplying", "replies in flight, peak", int);

export function clientScenario(reply: boolean): Scenario {
  const name = reply ? "client-reply" : "client-noop";
  const columns: Column[] = [
    { id: "ours-fetch", impl: "ours", label: "grammy-runner + createFetch()" },
    { id: "ours", impl: "ours", label: "grammy-runner" },
    { id: "runner", impl: "runner", label: "@grammyjs/runner" },
  ];
  const ratios: RatioDef[] = [
    { label: "createFetch / runner", a: "ours-fetch", b: "runner" },
    { label: "ours / runner (default client)", a: "ours", b: "runner" },
  ];
  return {
    name,
    title: `${name}: ${int(UPDATES)} updates over ${int(CHATS)} chats, ${reply ? "every update answered with ctx.reply (counted when it resolves)" : "no-op handler"}; grammY's default client and createFetch()`,
    impls: ["ours", "runner"],
    columns,
    ratios,
    needsServer: true,
    timeoutMs: quick ? 45_000 : 120_000,
    job: ({ id }) => ({
      kind: "throughput",
      updates: UPDATES,
      chats: CHATS,
      delayMs: 0,
      seq: false,
      reply,
      fastClient: id === "ours-fetch",
    }),
    metrics: [...THROUGHPUT_METRICS, CONNECTIONS, ...(reply ? [PEAK_REPLYING] : [])],
    note: `createFetch() is \`new Bot(token, { client: { fetch: createFetch() } })\` with its defaults (32 connections per origin); the other columns use grammY's default client (node-fetch with a keep-alive agent). "connections opened" counts the TCP connections the fake server accepted during the run (grammY's default agent opens one for every call in flight beyond those it has)${reply ? '; "replies in flight, peak" is the most handlers awaiting ctx.reply at once' : ""}. Targets: createFetch / runner ≥ ${reply ? "1.5 for updates/s and ≤ 0.65 for CPU per update" : "1.3 for updates/s"}.`,
  };
}
