/** journal-*: grammy-runner with and without fileJournal(), the throughput job otherwise. */
import os from "node:os";
import { options } from "../args.js";
import { fixed, int, type MetricDef, metric, type Scenario } from "./scenario.js";
import { CHATS, THROUGHPUT_METRICS, UPDATES } from "./throughput.js";

const { quick } = options;

/**
 * Enough for the journal's log (about 190 bytes an update here) to pass the
 * default compactBytes (8 MiB), so that compaction is part of the cost, and
 * for both runs to be past their warm-up.
 */
const JOURNAL_UPDATES = quick ? UPDATES : 60_000;
/** What the journal writes for one batch of 100 here, settle record included (measured: 20.9 KB). */
const JOURNAL_BATCH_BYTES = 20_900;

const JOURNAL_METRICS: MetricDef[] = [
  ...THROUGHPUT_METRICS,
  metric("wallPerUpdate", "wall µs/update", fixed(2), true),
  metric("syncFloor", "write + fdatasync of one batch (20.9 KB), µs p50", fixed(0)),
];

export function journalScenario(delayMs: number): Scenario {
  const name = `journal-${delayMs === 0 ? "noop" : `${delayMs}ms`}`;
  const handler = delayMs === 0 ? "no-op handler" : `handler awaits ${delayMs} ms`;
  return {
    name,
    title: `${name}: ${int(JOURNAL_UPDATES)} updates over ${int(CHATS)} chats, ${handler}; grammy-runner run() with and without journal: fileJournal(fresh temp dir)`,
    impls: ["ours", "runner"],
    columns: [
      { id: "ours", impl: "ours", label: "grammy-runner" },
      { id: "ours-journal", impl: "ours", label: "grammy-runner + fileJournal" },
      { id: "runner", impl: "runner", label: "@grammyjs/runner" },
    ],
    ratios: [
      { label: "journal / no journal", a: "ours-journal", b: "ours" },
      { label: "ours / runner (no journal)", a: "ours", b: "runner" },
    ],
    needsServer: true,
    timeoutMs: quick ? 45_000 : 90_000,
    job: ({ id }) => ({
      kind: "throughput",
      updates: JOURNAL_UPDATES,
      chats: CHATS,
      delayMs,
      seq: false,
      journal: id === "ours-journal",
      syncFloorBytes: JOURNAL_BATCH_BYTES,
    }),
    metrics: JOURNAL_METRICS,
    note: `The journal directory is a fresh \`mkdtemp\` under ${os.tmpdir()} (same disk as the rest), removed after the run; every fetched batch is written and fsynced before the next getUpdates confirms it, and ${quick ? "the log stays under the default compactBytes (8 MiB), so no compaction is included" : "the log passes the default compactBytes (8 MiB) once, so one compaction is included"}. Target: journal / no journal ≥ 0.70 for updates/s. @grammyjs/runner (no journal) is for context. Each bot process first times writing one batch's bytes into preallocated space on the same disk and fdatasyncing them, 200 times 1 ms apart: the least a batch of 100 costs with a journal, against the journal's extra wall time per update (the difference in "wall µs/update", times 100).`,
  };
}
