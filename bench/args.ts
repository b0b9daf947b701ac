/**
 * The command line of `npm run bench`, parsed and checked once, at startup:
 * the scenarios' sizes depend on --quick.
 */
import { parseArgs } from "node:util";
import type { Impl } from "./protocol.js";

/** Every implementation --impl accepts, in column order. */
export const ALL_IMPLS: Impl[] = ["ours", "runner", "start"];

const USAGE = `Usage: npm run bench -- [options]

  --quick              fewer updates, shorter handlers (a smoke run)
  --rounds N           rounds per scenario (default 3, with --quick 1); implementations alternate A B C A B C
  --scenario NAMES     comma-separated names or prefixes (e.g. "throughput", "fairness"); repeatable
  --impl NAMES         comma-separated subset of ${ALL_IMPLS.join(", ")}
  --timeout SECONDS    hard limit per run instead of the scenario's own (60-90 s)
  --updates N          backlog of the throughput and client scenarios (default 20,000, with
                       --quick 4,000)
  --out FILE           where to write the results (default bench/RESULTS.md, with --quick
                       bench/.out/RESULTS-quick.md; "-" for nowhere)
  --help               this text

Environment: BENCH_BOT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" passes Node.js flags
to the bot processes (e.g. to profile them). BENCH_BOT_EXEC=FILE starts the bot processes
with FILE instead of node (a wrapper that ends in \`exec ... node "$@"\`, e.g. to count
instructions with valgrind --tool=callgrind; see docs/benchmarks.md).`;

export interface BenchOptions {
  /** Fewer updates, shorter handlers. */
  quick: boolean;
  rounds: number;
  /** Names or prefixes from --scenario; empty for every scenario. */
  scenarios: string[];
  /** Implementations from --impl; empty for all of them. */
  impls: Impl[];
  /** From --timeout, in ms: replaces every scenario's own limit. */
  timeoutMs: number | undefined;
  /** From --out: a file, "-" for none, or undefined for bench/RESULTS.md. */
  out: string | undefined;
  /** From --updates: the throughput scenarios' backlog instead of their own. */
  updates: number | undefined;
}

/** Says what is wrong with the command line and exits with code 2. */
export function usageError(message: string): never {
  console.error(message);
  process.exit(2);
}

/** The values of a repeatable, comma-separated option. */
function listOf(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((s) => s.split(",")).filter((s) => s !== "");
}

function parse(args: string[]): BenchOptions {
  const { values: flags } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      rounds: { type: "string" },
      scenario: { type: "string", multiple: true },
      impl: { type: "string", multiple: true },
      out: { type: "string" },
      timeout: { type: "string" },
      updates: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (flags.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rounds = flags.rounds === undefined ? (flags.quick ? 1 : 3) : Number(flags.rounds);
  if (!Number.isInteger(rounds) || rounds < 1)
    usageError(`--rounds must be a positive integer, got ${flags.rounds}\n\n${USAGE}`);
  const timeoutMs = flags.timeout === undefined ? undefined : Number(flags.timeout) * 1000;
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    usageError(`--timeout must be a positive number of seconds, got ${flags.timeout}`);
  const updates = flags.updates === undefined ? undefined : Number(flags.updates);
  if (updates !== undefined && !(Number.isInteger(updates) && updates >= 100))
    usageError(`--updates must be an integer of at least 100, got ${flags.updates}`);
  const impls = listOf(flags.impl);
  for (const name of impls)
    if (!ALL_IMPLS.includes(name as Impl))
      usageError(`unknown --impl ${name}; choose from ${ALL_IMPLS.join(", ")}`);
  return {
    quick: flags.quick === true,
    rounds,
    scenarios: listOf(flags.scenario),
    impls: impls as Impl[],
    timeoutMs,
    out: flags.out,
    updates,
  };
}

export const options: BenchOptions = parse(process.argv.slice(2));
