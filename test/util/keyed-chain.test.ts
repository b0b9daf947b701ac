import { describe, expect, it } from "vitest";
import { type ChainKeys, KeyedChain } from "../../src/util/keyed-chain.js";
import { flush, type Gate, gate } from "../helpers/async.js";

/** Runs `work` in its turn on `keys`, as sequentialize and distribute do. */
async function inTurn(
  chain: KeyedChain,
  keys: ChainKeys,
  work: () => Promise<void>,
): Promise<void> {
  const done = gate();
  const before = chain.join(keys, done.promise);
  try {
    if (before !== undefined) await before;
    await work();
  } finally {
    done.open();
    chain.leave(keys);
  }
}

/** Holders that log their start and wait for the test to finish them. */
function harness(chain: KeyedChain): {
  log: string[];
  hold: (id: string, keys: ChainKeys) => Promise<void>;
  finish: (id: string, error?: Error) => void;
} {
  const log: string[] = [];
  const gates = new Map<string, Gate>();
  return {
    log,
    hold: (id, keys) =>
      inTurn(chain, keys, () => {
        log.push(id);
        const g = gate();
        gates.set(id, g);
        return g.promise;
      }),
    finish: (id, error) => {
      const g = gates.get(id);
      if (g === undefined) throw new Error(`${id} has not started`);
      if (error === undefined) g.open();
      else g.fail(error);
    },
  };
}

describe("KeyedChain", () => {
  it("starts the first holder of a key at once and the next ones in join order", async () => {
    const chain = new KeyedChain();
    const h = harness(chain);
    const all = [h.hold("1", "k"), h.hold("2", "k"), h.hold("3", ["k"])];
    await flush();
    expect(h.log).toEqual(["1"]);
    h.finish("1");
    await flush();
    expect(h.log).toEqual(["1", "2"]);
    h.finish("2");
    await flush();
    expect(h.log).toEqual(["1", "2", "3"]);
    h.finish("3");
    await Promise.all(all);
  });

  it("returns nothing to wait for when no earlier holder shares a key", () => {
    const chain = new KeyedChain();
    const done = gate().promise;
    expect(chain.join("a", done)).toBeUndefined();
    expect(chain.join(["b", "c"], done)).toBeUndefined();
    expect(chain.join("a", done)).toBeInstanceOf(Promise);
    expect(chain.size).toBe(3);
  });

  it("runs holders of different keys concurrently", async () => {
    const h = harness(new KeyedChain());
    const all = [h.hold("a", "a"), h.hold("b", "b")];
    await flush();
    expect(h.log).toEqual(["a", "b"]);
    h.finish("b");
    h.finish("a");
    await Promise.all(all);
  });

  it("makes a holder of several keys wait for every earlier holder of any of them", async () => {
    const h = harness(new KeyedChain());
    const all = [h.hold("a", "a"), h.hold("b", "b"), h.hold("ab", ["a", "b"]), h.hold("b2", "b")];
    await flush();
    expect(h.log).toEqual(["a", "b"]);
    h.finish("a");
    await flush();
    expect(h.log).toEqual(["a", "b"]);
    h.finish("b");
    await flush();
    expect(h.log).toEqual(["a", "b", "ab"]);
    // b2 joined after ab, so it waits for ab too.
    h.finish("ab");
    await flush();
    expect(h.log).toEqual(["a", "b", "ab", "b2"]);
    h.finish("b2");
    await Promise.all(all);
  });

  it("leaves a holder's error to its caller and goes on with the next holder", async () => {
    const h = harness(new KeyedChain());
    const first = h.hold("1", "k");
    const second = h.hold("2", "k");
    await flush();
    const error = new Error("handler failed");
    h.finish("1", error);
    await expect(first).rejects.toBe(error);
    await flush();
    expect(h.log).toEqual(["1", "2"]);
    h.finish("2");
    await expect(second).resolves.toBeUndefined();
  });

  it("frees a key's state once its last holder leaves, so a new holder starts at once", async () => {
    const chain = new KeyedChain();
    const h = harness(chain);
    const all = [h.hold("1", ["a", "b"]), h.hold("2", "a")];
    await flush();
    expect(chain.size).toBe(2);
    h.finish("1");
    await flush();
    // b has no holder left; a still has 2.
    expect(chain.size).toBe(1);
    h.finish("2");
    await Promise.all(all);
    expect(chain.size).toBe(0);
    expect(chain.join("a", gate().promise)).toBeUndefined();
  });
});
