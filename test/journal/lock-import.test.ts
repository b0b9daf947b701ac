import { expect, it, vi } from "vitest";

const { calls, spied } = vi.hoisted(() => {
  /** Calls into `node:fs` and `node:fs/promises` from the source under test. */
  const calls: string[] = [];
  /** `module` with every function replaced by one that records its call first. */
  function spied<T extends object>(module: T, prefix: string): T {
    const copy: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(module)) {
      copy[name] =
        typeof value === "function"
          ? function (this: unknown, ...args: unknown[]) {
              calls.push(`${prefix}.${name}`);
              return Reflect.apply(value, this, args);
            }
          : value;
    }
    return copy as T;
  }
  return { calls, spied };
});

vi.mock("node:fs", async (importOriginal) =>
  spied(await importOriginal<typeof import("node:fs")>(), "fs"),
);
vi.mock("node:fs/promises", async (importOriginal) =>
  spied(await importOriginal<typeof import("node:fs/promises")>(), "fs/promises"),
);

it("importing the lock reads no file; the pid space is read on first use, once", async () => {
  vi.resetModules();
  calls.length = 0;
  const lock = await import("../../src/journal/lock.js");
  expect(calls).toEqual([]);

  const space = lock.pidSpace();
  if (process.platform === "linux") {
    // The spies do see reads, so the empty list above means something.
    expect(calls).toContain("fs.readlinkSync");
    expect(space).not.toBe("");
  }
  const made = calls.length;
  expect(lock.pidSpace()).toBe(space);
  expect(calls).toHaveLength(made);
});
