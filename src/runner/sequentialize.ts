import { type ChainKeys, KeyedChain } from "../util/keyed-chain.js";
import { checkFunction, show } from "../util/options.js";
import { parkUpdate, whenTimedOut } from "./update-scope.js";

/**
 * Creates middleware that runs updates sharing a key one after another, in the
 * order they reach it, while updates with other keys run concurrently. Use the
 * same key as your session (usually the chat id) to avoid lost writes.
 *
 * `constraint(ctx)` returns a key, several keys (an update waits for every
 * earlier update sharing any of them), or `undefined` for no constraint.
 * A key's state is freed as soon as no update holds it, so memory does not
 * grow with the number of chats. Errors of later middleware reach the caller
 * as usual, and do not stop the next update of the key.
 *
 * Under a runner sink, an update waiting for its turn is *parked*: it gives
 * its concurrency slot back until the previous update of its key is done, so a
 * chat that floods the bot cannot stall the others (`sink.maxParked` bounds
 * how many may wait). An update whose handler exceeds `sink.timeout` gives
 * its key up when the runner gives up on it: the next update of the key
 * starts, although the timed-out handler may still be running. Works under
 * `bot.start()` and webhooks too.
 *
 * @param constraint Derives the key(s) of an update from its context
 * @returns Middleware to install with `bot.use()`
 *
 * @example
 * ```ts
 * // one chat at a time; chats in parallel
 * bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
 * // also one user at a time across chats
 * bot.use(sequentialize((ctx) => [ctx.chat?.id.toString(), ctx.from?.id.toString()].filter((k) => k !== undefined)));
 * ```
 */
export function sequentialize<C>(
  constraint: (ctx: C) => string | string[] | undefined,
): (ctx: C, next: () => void | Promise<void>) => Promise<void> {
  checkFunction("constraint", constraint);
  const chain = new KeyedChain();

  return async (ctx, next) => {
    const keys = keysOf(constraint(ctx));
    if (keys === undefined) return next();

    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = chain.join(keys, done);
    let held = true;
    const leave = () => {
      if (!held) return;
      held = false;
      release();
      chain.leave(keys);
    };
    try {
      if (before !== undefined) {
        // Waiting for our turn is not work: under the runner, give the
        // concurrency slot to other chats meanwhile.
        const parked = parkUpdate(ctx);
        await before;
        await parked?.resume();
      }
      // A hung handler may never settle: without this, its key would be
      // held for good, and the updates parked behind it with it.
      whenTimedOut(ctx, leave);
      await next();
    } finally {
      leave();
    }
  };
}

/** The key(s) of a constraint's value; `undefined` for none. */
function keysOf(value: unknown): ChainKeys | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (isKey(value)) return String(value);
  if (Array.isArray(value)) {
    const keys = new Set<string>();
    for (const key of value) {
      if (key === undefined || key === null || key === "") continue;
      if (!isKey(key)) throw keyError(value);
      keys.add(String(key));
    }
    return keys.size === 0 ? undefined : [...keys];
  }
  throw keyError(value);
}

/** Numbers are accepted too: plain-JS bots often return `ctx.chat.id` itself. */
function isKey(value: unknown): value is string | number | bigint {
  return typeof value === "string" || typeof value === "number" || typeof value === "bigint";
}

function keyError(value: unknown): TypeError {
  return new TypeError(
    `The sequentialize constraint must return a string, an array of strings or undefined, but returned ${show(value)}.`,
  );
}
