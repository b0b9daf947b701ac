import { describe, expect, it } from "vitest";
import { RecentIds } from "../../src/util/recent-ids.js";
import { parseUpdate, secretChecker } from "../../src/webhook/request.js";

describe("RecentIds", () => {
  it("remembers the last `size` ids and forgets the oldest first", () => {
    const recent = new RecentIds(3);
    for (const id of [1, 2, 3, 2, 4]) recent.add(id);
    expect([1, 2, 3, 4].map((id) => recent.has(id))).toEqual([false, true, true, true]);
    recent.add(5);
    expect(recent.has(2)).toBe(false);
    expect(new RecentIds(0).has(1)).toBe(false);
  });
});

describe("secretChecker", () => {
  it("accepts only the exact secret, whatever the length of the given one", () => {
    const check = secretChecker("abc_DEF-123");
    expect(check("abc_DEF-123")).toBe(true);
    for (const wrong of [
      undefined,
      "",
      "abc_DEF-12",
      "abc_DEF-1234",
      "abc_DEF-124",
      "x".repeat(300),
    ])
      expect(check(wrong)).toBe(false);
    expect(secretChecker(undefined)(undefined)).toBe(true);
  });
});

describe("parseUpdate", () => {
  it("reads bytes, text or a parsed value, and needs an integer update_id", () => {
    expect(parseUpdate(Buffer.from('{"update_id":5}'))).toEqual({ update: { update_id: 5 } });
    expect(parseUpdate('{"update_id":5}')).toEqual({ update: { update_id: 5 } });
    expect(parseUpdate({ update_id: 5 })).toEqual({ update: { update_id: 5 } });
    expect(parseUpdate("{")).toEqual({ error: "Bad Request: the body is not JSON" });
    expect(parseUpdate("null")).toHaveProperty("error");
    expect(parseUpdate({ update_id: 2 ** 60 })).toHaveProperty("error");
    expect(parseUpdate({ update_id: "5" })).toHaveProperty("error");
  });
});
