import { describe, expect, it } from "vitest";
import { sequentialize } from "../../src/runner/sequentialize.js";
import { flush, type Gate, gate } from "../helpers/async.js";

interface Ctx {
  id: string;
  key: unknown;
}

type Middleware = (ctx: Ctx, next: () => void | Promise<void>) => Promise<void>;

/** Middleware keyed by `ctx.key` (any value, to test what the constraint may return). */
function byKey(): Middleware {
  return sequentialize<Ctx>((ctx) => ctx.key as string | string[] | undefined);
}

/** Runs updates through `mw`; each handler logs its start and end and waits for its gate. */
function harness(mw: Middleware): {
  log: string[];
  send: (id: string, key: unknown) => Promise<void>;
  finish: (id: string) => void;
} {
  const log: string[] = [];
  const gates = new Map<string, Gate>();
  const gateOf = (id: string): Gate => {
    let g = gates.get(id);
    if (g === undefined) {
      g = gate();
      gates.set(id, g);
    }
    return g;
  };
  return {
    log,
    send: (id, key) =>
      mw({ id, key }, async () => {
        log.push(`start ${id}`);
        await gateOf(id).promise;
        log.push(`end ${id}`);
      }),
    finish: (id) => gateOf(id).open(),
  };
}

describe("sequentialize", () => {
  it("runs updates of one key in arrival order even if earlier ones are slower", async () => {
    const h = harness(byKey());
    const all = [h.send("1", "chat"), h.send("2", "chat"), h.send("3", "chat")];
    h.finish("3");
    h.finish("2");
    await flush();
    expect(h.log).toEqual(["start 1"]);
    h.finish("1");
    await Promise.all(all);
    expect(h.log).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("runs updates of different keys concurrently", async () => {
    const h = harness(byKey());
    const a = h.send("a", "chat-a");
    const b = h.send("b", "chat-b");
    await flush();
    expect(h.log).toEqual(["start a", "start b"]);
    h.finish("b");
    await b;
    expect(h.log).toEqual(["start a", "start b", "end b"]);
    h.finish("a");
    await a;
  });

  it("makes an update with several keys wait for every earlier holder of any of them", async () => {
    const h = harness(byKey());
    const a = h.send("a", "x");
    const b = h.send("b", "y");
    const ab = h.send("ab", ["x", "y"]);
    const later = h.send("later", "y");
    const other = h.send("other", "z");
    await flush();
    expect(h.log).toEqual(["start a", "start b", "start other"]);
    h.finish("a");
    await a;
    await flush();
    expect(h.log).not.toContain("start ab");
    h.finish("b");
    await b;
    await flush();
    expect(h.log).toContain("start ab");
    expect(h.log).not.toContain("start later");
    h.finish("ab");
    h.finish("later");
    h.finish("other");
    await Promise.all([ab, later, other]);
    expect(h.log.indexOf("start later")).toBeGreaterThan(h.log.indexOf("end ab"));
  });

  it.each([
    ["undefined", undefined],
    ["null", null],
    ["an empty string", ""],
    ["an empty array", []],
    ["an array of empty values", [undefined, ""]],
  ])("puts no constraint on an update whose key is %s", async (_name, key) => {
    const h = harness(byKey());
    const first = h.send("1", key);
    const second = h.send("2", key);
    await flush();
    expect(h.log).toEqual(["start 1", "start 2"]);
    h.finish("1");
    h.finish("2");
    await Promise.all([first, second]);
  });

  it("accepts number keys and treats them like their string form", async () => {
    const h = harness(byKey());
    const a = h.send("a", 42);
    const d = h.send("d", 7n);
    const b = h.send("b", "42");
    const c = h.send("c", [42, "7"]);
    await flush();
    expect(h.log).toEqual(["start a", "start d"]);
    h.finish("a");
    await a;
    await flush();
    expect(h.log).toContain("start b");
    h.finish("b");
    await b;
    await flush();
    expect(h.log).not.toContain("start c"); // still waits for 7n
    h.finish("d");
    await flush();
    expect(h.log).toContain("start c");
    h.finish("c");
    await Promise.all([b, c, d]);
  });

  it.each([
    ["an object", { chat: 1 }, "an object (Object)"],
    ["a boolean", true, "true"],
    ["an array holding an object", ["ok", { chat: 1 }], "an array of length 2"],
  ])("rejects a constraint returning %s with a TypeError", async (_name, key, shown) => {
    const mw = byKey();
    let called = false;
    const result = mw({ id: "1", key }, () => {
      called = true;
    });
    await expect(result).rejects.toThrow(TypeError);
    await expect(mw({ id: "1", key }, () => {})).rejects.toThrow(`but returned ${shown}.`);
    expect(called).toBe(false);
  });

  it("passes an error of next() to the caller without blocking the key", async () => {
    const mw = byKey();
    const failure = new Error("handler failed");
    const h = harness(mw);
    const failing = mw({ id: "1", key: "k" }, async () => {
      throw failure;
    });
    const after = h.send("2", "k");
    await expect(failing).rejects.toBe(failure);
    await flush();
    expect(h.log).toEqual(["start 2"]);
    h.finish("2");
    await after;
  });

  it("lets an old key run at once after a long run of many keys", async () => {
    const mw = byKey();
    let active = 0;
    let maxActive = 0;
    const pending: Promise<void>[] = [];
    const release = gate();
    for (let i = 0; i < 10_000; i++) {
      pending.push(
        mw({ id: String(i), key: `k${i}` }, async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await release.promise;
          active--;
        }),
      );
    }
    expect(maxActive).toBe(10_000); // distinct keys never wait for each other
    release.open();
    await Promise.all(pending);
    expect(active).toBe(0);

    for (let i = 0; i < 10_000; i++) {
      await mw({ id: String(i), key: `s${i % 100}` }, async () => {});
    }

    // The next update of an old key starts synchronously: no stale chain to wait on.
    for (const key of ["k0", "k9999", "s0", "s99"]) {
      let started = false;
      const done = mw({ id: "again", key }, () => {
        started = true;
      });
      expect(started).toBe(true);
      await done;
    }
  });

  it("lets the next update start right after the previous one of its key finishes", async () => {
    const h = harness(byKey());
    const first = h.send("1", "k");
    const second = h.send("2", "k");
    h.finish("1");
    await first;
    await flush();
    expect(h.log).toEqual(["start 1", "end 1", "start 2"]);
    // A third update arriving while the second runs waits only for it.
    const third = h.send("3", "k");
    await flush();
    expect(h.log).toHaveLength(3);
    h.finish("2");
    h.finish("3");
    await Promise.all([second, third]);
    expect(h.log.slice(3)).toEqual(["end 2", "start 3", "end 3"]);
  });

  it("rejects a constraint that is not a function", () => {
    const notFunctions: unknown[] = [undefined, "chat", 5, {}];
    for (const value of notFunctions) {
      expect(() => sequentialize(value as (ctx: Ctx) => string)).toThrow(TypeError);
    }
    expect(() => sequentialize("chat" as unknown as (ctx: Ctx) => string)).toThrow(
      "`constraint` must be a function",
    );
  });
});
