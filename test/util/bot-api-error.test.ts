import { describe, expect, it } from "vitest";
import {
  errorCode,
  errorDescription,
  errorParameters,
  retryAfterSeconds,
} from "../../src/util/bot-api-error.js";

/** Looks like grammY's GrammyError without being one: another grammY copy's errors pass no instanceof. */
class ForeignGrammyError extends Error {
  constructor(
    readonly error_code: number,
    readonly description: string,
    readonly parameters: object = {},
  ) {
    super(`Call to 'getUpdates' failed! (${error_code}: ${description})`);
  }
}

describe("Bot API error readers", () => {
  it("read the fields of an error from any class, and of a plain ok: false answer", () => {
    const error = new ForeignGrammyError(429, "Too Many Requests: retry after 5", {
      retry_after: 5,
    });
    const answer = JSON.parse(
      '{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":5}}',
    );
    for (const value of [error, answer]) {
      expect(errorCode(value)).toBe(429);
      expect(errorDescription(value)).toMatch(/^Too Many Requests/);
      expect(errorParameters(value)).toEqual({ retry_after: 5 });
      expect(retryAfterSeconds(value)).toBe(5);
    }
  });

  it("answer undefined for anything thrown that is no Bot API error", () => {
    for (const value of [undefined, null, 0, "401", Symbol("x"), () => {}, [], new Error("x")]) {
      expect(errorCode(value)).toBeUndefined();
      expect(errorDescription(value)).toBeUndefined();
      expect(errorParameters(value)).toBeUndefined();
      expect(retryAfterSeconds(value)).toBeUndefined();
    }
  });

  it("ignore fields of the wrong type", () => {
    const odd = { error_code: "401", description: 42, parameters: "retry_after=5" };
    expect(errorCode(odd)).toBeUndefined();
    expect(errorDescription(odd)).toBeUndefined();
    expect(errorParameters(odd)).toBeUndefined();
    expect(errorParameters({ parameters: null })).toBeUndefined();
  });

  it("take retry_after only as a number >= 0, whatever the error_code", () => {
    const seconds = (retry_after: unknown) => retryAfterSeconds({ parameters: { retry_after } });
    expect(seconds(0)).toBe(0);
    expect(seconds(1.5)).toBe(1.5);
    expect(seconds(-1)).toBeUndefined();
    expect(seconds(Number.NaN)).toBeUndefined();
    expect(seconds("5")).toBeUndefined();
    expect(retryAfterSeconds({ error_code: 400, parameters: { retry_after: 3 } })).toBe(3);
  });
});
