/**
 * The demo's command line. Its own small parser rather than `util.parseArgs`:
 * every mistake (an unknown flag, a missing or negative value) gets one line
 * naming the flag, and `--updates -5` reads as a value, not as a flag.
 */

/** What the demo simulates, from its flags. */
export interface DemoOptions {
  updates: number;
  chats: number;
  concurrency: number;
  /** Seconds the simulation runs before it stops on its own. */
  duration: number;
  /** Updates pushed per second. */
  rate: number;
  /** Whether the fake server delivers by webhook (`webhook()`) instead of long polling. */
  webhook: boolean;
  /** Replicas of a Redis cluster to run instead (demo/cluster.ts), or 0 for one process. */
  cluster: number;
}

export const USAGE = `Usage: npm start -- [--updates N] [--chats N] [--concurrency N] [--duration S] [--rate N]
                     [--webhook] [--cluster N]

  --updates N       updates the simulated users send in all (default 20000)
  --chats N         chats they send them from; one chat sends a tenth of them (default 200)
  --concurrency N   the runner's sink.concurrency (default 500)
  --duration S      stop gracefully after S seconds (default 20)
  --rate N          updates sent per second (default 1000)
  --webhook         the fake server POSTs updates to webhook() as Telegram would,
                    instead of the bot polling with run()
  --cluster N       N replicas of the bot in a cluster on local Redis (REDIS_URL);
                    the leader is killed and replaced every 8 s (demo/cluster.ts)
  --help            this text

Runs a bot on the embedded fake Bot API server with simulated users; with BOT_TOKEN set,
the same bot runs against Telegram instead. Ctrl-C stops it gracefully.`;

type NumberOption = Exclude<keyof DemoOptions, "webhook">;

const DEFAULTS: Record<NumberOption, number> = {
  updates: 20_000,
  chats: 200,
  concurrency: 500,
  duration: 20,
  rate: 1000,
  cluster: 0,
};

/** A mistake on the command line; its message is one line naming the flag. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The options from `argv` (without node and the script), or "help" for --help. */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | "help" {
  const options: DemoOptions = { ...DEFAULTS, webhook: false };
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (name === "help" || name === "webhook") {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      if (name === "help") help = true;
      else options.webhook = true;
      continue;
    }
    if (!Object.hasOwn(DEFAULTS, name)) throw new UsageError(`unknown option --${name}`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    options[name as NumberOption] = positiveInteger(name, value);
  }
  return help ? "help" : options;
}

function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a whole number >= 1, got ${JSON.stringify(text)}`);
  return n;
}
