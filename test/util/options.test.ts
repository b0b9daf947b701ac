import { describe, expect, it } from "vitest";
import {
  checkBoolean,
  checkDuration,
  checkFunction,
  checkNumber,
  checkOneOf,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../../src/util/options.js";

/** Runs `fn`, expecting it to throw, and returns the error. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-error: ${String(error)}`);
  }
  throw new Error("did not throw");
}

describe("show()", () => {
  it.each([
    ["abc", '"abc"'],
    ['say "hi"', '"say \\"hi\\""'],
    [5, "5"],
    [-1.5, "-1.5"],
    [Number.NaN, "NaN"],
    [Infinity, "Infinity"],
    [true, "true"],
    [10n, "10"],
    [null, "null"],
    [undefined, "undefined"],
    [() => 1, "a function"],
    [[1, 2, 3], "an array of length 3"],
    [{ a: 1 }, "an object (Object)"],
    [new Date(0), "an object (Date)"],
    [new Map(), "an object (Map)"],
  ])("renders %s as %s", (value, expected) => {
    expect(show(value)).toBe(expected);
  });

  it("does not dump the content of a huge object", () => {
    const big = { data: "x".repeat(100_000) };
    expect(show(big).length).toBeLessThan(40);
  });
});

describe("rejectUnknownKeys()", () => {
  const known = ["concurrency", "timeout"] as const;

  it("accepts known keys", () => {
    expect(() => rejectUnknownKeys("sink", { concurrency: 1, timeout: {} }, known)).not.toThrow();
    expect(() => rejectUnknownKeys("sink", {}, known)).not.toThrow();
  });

  it("names the unknown key with its path, lists the known ones and suggests a near one", () => {
    const error = thrown(() => rejectUnknownKeys("sink", { concurency: 3 }, known));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      "Unknown option `sink.concurency`; expected one of `concurrency`, `timeout`. Did you mean `concurrency`?",
    );
  });

  it("matches case-insensitively and gives no hint for far-off keys", () => {
    expect(thrown(() => rejectUnknownKeys("sink", { TimeOut: 1 }, known)).message).toContain(
      "Did you mean `timeout`?",
    );
    const far = thrown(() => rejectUnknownKeys("sink", { banana: 1 }, known));
    expect(far.message).toContain("`sink.banana`");
    expect(far.message).not.toContain("Did you mean");
  });

  it("uses the bare key at the top level", () => {
    const error = thrown(() => rejectUnknownKeys("", { sinks: {} }, ["source", "runner", "sink"]));
    expect(error.message).toContain("Unknown option `sinks`;");
    expect(error.message).toContain("Did you mean `sink`?");
  });
});

describe("checkNumber()", () => {
  it("returns valid numbers, including Infinity when there is no maximum", () => {
    expect(checkNumber("a.b", 3, { min: 1, integer: true })).toBe(3);
    expect(checkNumber("a.b", Infinity, { min: 1, integer: true })).toBe(Infinity);
    expect(checkNumber("a.b", 0.25, { min: 0, max: 1 })).toBe(0.25);
    expect(checkNumber("a.b", 1, { min: 0, max: 1 })).toBe(1);
  });

  it.each([
    ["a string", "3", TypeError, 'but got "3".'],
    ["NaN", Number.NaN, TypeError, "but got NaN."],
    ["undefined", undefined, TypeError, "but got undefined."],
    ["below min", 0, RangeError, "but got 0."],
    ["a fraction", 2.5, RangeError, "but got 2.5."],
    ["-Infinity", -Infinity, RangeError, "but got -Infinity."],
  ])("rejects %s with path, expected form and value", (_name, value, kind, given) => {
    const error = thrown(() => checkNumber("sink.concurrency", value, { min: 1, integer: true }));
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toBe(
      `Option \`sink.concurrency\` must be an integer >= 1 (or Infinity), ${given}`,
    );
  });

  it("describes a bounded range and rejects Infinity for it", () => {
    const over = thrown(() => checkNumber("source.speedTrafficBalance", 2, { min: 0, max: 1 }));
    expect(over).toBeInstanceOf(RangeError);
    expect(over.message).toBe(
      "Option `source.speedTrafficBalance` must be a number from 0 to 1, but got 2.",
    );
    const inf = thrown(() => checkNumber("x", Infinity, { min: 0, max: Number.MAX_SAFE_INTEGER }));
    expect(inf).toBeInstanceOf(RangeError);
    expect(inf.message).toContain("but got Infinity.");
  });
});

describe("other checks", () => {
  it("checkDuration accepts finite non-negative numbers only", () => {
    expect(checkDuration("t", 0)).toBe(0);
    expect(checkDuration("t", 1500)).toBe(1500);
    expect(thrown(() => checkDuration("t", -1))).toBeInstanceOf(RangeError);
    expect(thrown(() => checkDuration("t", Infinity))).toBeInstanceOf(RangeError);
    const nan = thrown(() => checkDuration("t.ms", Number.NaN));
    expect(nan).toBeInstanceOf(TypeError);
    expect(nan.message).toBe(
      "Option `t.ms` must be a finite number of milliseconds >= 0, but got NaN.",
    );
  });

  it("checkFunction, checkBoolean and checkOneOf name what they expected", () => {
    const fn = () => 1;
    expect(checkFunction("f", fn)).toBe(fn);
    expect(thrown(() => checkFunction("f", 3)).message).toBe(
      "Option `f` must be a function, but got 3.",
    );
    expect(checkBoolean("b", false)).toBe(false);
    expect(thrown(() => checkBoolean("b", "yes"))).toBeInstanceOf(TypeError);
    expect(checkOneOf("mode", "a", ["a", "b"])).toBe("a");
    expect(thrown(() => checkOneOf("mode", "c", ["a", "b"])).message).toBe(
      'Option `mode` must be one of "a", "b", but got "c".',
    );
  });

  it("optionalObject turns undefined into {} and rejects non-objects", () => {
    expect(optionalObject<{ a?: number }>("o", undefined)).toEqual({});
    const value = { a: 1 };
    expect(optionalObject("o", value)).toBe(value);
    for (const bad of [null, 5, "x", [1]]) {
      const error = thrown(() => optionalObject("opts", bad as unknown as object));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain("Option `opts` must be an object");
    }
  });

  it("optionalObject with known keys rejects the others, naming the option", () => {
    expect(optionalObject("o", { a: 1 }, ["a", "b"])).toEqual({ a: 1 });
    const error = thrown(() => optionalObject("o", { aa: 1 } as object, ["a"]));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe("Unknown option `o.aa`; expected one of `a`. Did you mean `a`?");
  });

  it("gives the fallback for undefined only, and still checks a given value", () => {
    expect(checkNumber("n", undefined, { min: 1, fallback: 7 })).toBe(7);
    expect(checkNumber("n", 3, { min: 1, fallback: 7 })).toBe(3);
    expect(thrown(() => checkNumber("n", 0, { min: 1, fallback: 7 }))).toBeInstanceOf(RangeError);
    expect(thrown(() => checkNumber("n", undefined, { min: 1 }))).toBeInstanceOf(TypeError);
    expect(checkBoolean("b", undefined, true)).toBe(true);
    expect(checkBoolean("b", false, true)).toBe(false);
    expect(thrown(() => checkBoolean("b", "yes", true)).message).toContain("Option `b`");
    expect(checkOneOf("m", undefined, ["a", "b"], "b")).toBe("b");
    expect(thrown(() => checkOneOf("m", null, ["a", "b"], "b"))).toBeInstanceOf(TypeError);
  });
});
