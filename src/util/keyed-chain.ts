/** The tail of one key's chain and how many holders have joined it and not left. */
interface Link {
  tail: Promise<void>;
  holders: number;
}

/**
 * One key, or several: a holder of several keys waits for every earlier
 * holder of any of them. A lone string saves an array per call on hot paths.
 */
export type ChainKeys = string | readonly string[];

/**
 * Per-key promise chains: holders of a key take turns in the order they
 * join, while holders of other keys go on concurrently. A key's state is
 * freed as soon as its last holder leaves, so memory follows the keys in
 * use rather than every key ever seen.
 *
 * A holder passes the promise that ends its turn (`done`), which must only
 * ever resolve: the next holder awaits it, and the chain has no error to
 * hand on. The holder's own errors stay with its caller. Callers without a
 * key (no constraint) skip the chain altogether.
 *
 * Used by `sequentialize()` (per update, so it allocates nothing beyond the
 * key's link and, for several earlier holders, one `Promise.all`) and by
 * `distribute()`.
 *
 * @example
 * ```ts
 * const chain = new KeyedChain();
 * async function inTurn(key: string, work: () => Promise<void>): Promise<void> {
 *   let release!: () => void;
 *   const done = new Promise<void>((resolve) => {
 *     release = resolve;
 *   });
 *   const before = chain.join(key, done);
 *   try {
 *     await before;
 *     await work();
 *   } finally {
 *     release();
 *     chain.leave(key);
 *   }
 * }
 * ```
 */
export class KeyedChain {
  private readonly links = new Map<string, Link>();

  /**
   * Queues a holder behind every earlier holder of `keys`; its turn ends when
   * `done` resolves. Call {@link leave} once with the same keys afterwards.
   *
   * @returns What to await before the turn starts (it never rejects), or
   *   `undefined` if no earlier holder is left and the turn starts now
   */
  join(keys: ChainKeys, done: Promise<void>): Promise<unknown> | undefined {
    if (typeof keys === "string") return this.append(keys, done);
    let first: Promise<void> | undefined;
    let all: Promise<void>[] | undefined;
    for (const key of keys) {
      const before = this.append(key, done);
      if (before === undefined) continue;
      if (first === undefined) first = before;
      else if (all === undefined) all = [first, before];
      else all.push(before);
    }
    return all === undefined ? first : Promise.all(all);
  }

  /** Ends a holder's turn on `keys`, after its `done` has resolved; frees keys left idle. */
  leave(keys: ChainKeys): void {
    if (typeof keys === "string") {
      this.drop(keys);
      return;
    }
    for (const key of keys) this.drop(key);
  }

  /** Number of keys held or waited for. */
  get size(): number {
    return this.links.size;
  }

  private append(key: string, done: Promise<void>): Promise<void> | undefined {
    const link = this.links.get(key);
    if (link === undefined) {
      this.links.set(key, { tail: done, holders: 1 });
      return undefined;
    }
    const before = link.tail;
    link.tail = done;
    link.holders++;
    return before;
  }

  private drop(key: string): void {
    const link = this.links.get(key);
    if (link !== undefined && --link.holders === 0) this.links.delete(key);
  }
}
