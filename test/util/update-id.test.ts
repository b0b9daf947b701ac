import { describe, expect, it } from "vitest";
import { isUpdateId } from "../../src/util/update-id.js";

describe("isUpdateId()", () => {
  it("accepts safe integers only", () => {
    for (const id of [0, 1, 123_456_789, Number.MAX_SAFE_INTEGER])
      expect(isUpdateId(id)).toBe(true);
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "1", null, undefined])
      expect(isUpdateId(bad)).toBe(false);
  });
});
