import createDebug from "debug";
import { afterEach, describe, expect, it } from "vitest";
import { addSecret, describeError, logger, MAX_SECRETS, redact } from "../../src/util/log.js";

const previousLog = createDebug.log;
afterEach(() => {
  createDebug.log = previousLog;
  createDebug.disable();
});

/** Enables the namespace and returns the lines `debug` would print. */
function capture(namespace: string): string[] {
  const lines: string[] = [];
  createDebug.enable(namespace);
  createDebug.log = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  return lines;
}

describe("logger", () => {
  it("prints the message as it is, % signs included, with the token redacted", () => {
    const lines = capture("grammy-runner:test");
    logger("test")(
      "Unexpected token %o at 50%d in /bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/x",
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("Unexpected token %o at 50%d in /bot<token>/x");
  });

  it("prints nothing while its namespace is off", () => {
    const lines = capture("grammy-runner:other");
    logger("test")("quiet");
    expect(lines).toEqual([]);
  });
});

describe("redact", () => {
  it("replaces every token-shaped part and leaves the rest", () => {
    expect(
      redact("a 123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw b 987654321:ZZZZZZZZZZZZZZZZZZZZZZZZ"),
    ).toBe("a <token> b <token>");
    expect(redact("chat 12345 said 1:2")).toBe("chat 12345 said 1:2");
  });
});

describe("addSecret", () => {
  it("makes redact hide a token of any shape by its exact value", () => {
    const text = "request to http://127.0.0.1:1/bot7000000001:short-token/getUpdates failed";
    expect(redact(text)).toBe(text);
    addSecret("7000000001:short-token");
    expect(redact(text)).toBe("request to http://127.0.0.1:1/bot<token>/getUpdates failed");
    expect(describeError(new Error(text))).not.toContain("short-token");
  });

  it("hides a token that contains another one whole", () => {
    addSecret("42:abc");
    addSecret("42:abcdef");
    expect(redact("a 42:abcdef b 42:abc c")).toBe("a <token> b <token> c");
  });

  it("ignores what is not a non-empty string", () => {
    for (const value of ["", undefined, null, 42, {}]) addSecret(value);
    expect(redact("nothing 42 here")).toBe("nothing 42 here");
  });

  it(`remembers the latest ${MAX_SECRETS} tokens, a token added again counting as new`, () => {
    addSecret("kept-oldest");
    addSecret("forgotten");
    addSecret("kept-oldest");
    for (let i = 0; i < MAX_SECRETS - 1; i++) addSecret(`filler-${i}`);
    expect(redact("forgotten kept-oldest")).toBe("forgotten <token>");
  });
});

describe("describeError", () => {
  it("names a Bot API error by error_code and description, and adds the error grammY wraps", () => {
    const httpError = Object.assign(new Error("Network request for 'getUpdates' failed!"), {
      error: new Error("connect ECONNREFUSED"),
    });
    expect(describeError({ error_code: 502, description: "Bad Gateway", message: "x" })).toBe(
      "502 Bad Gateway",
    );
    expect(describeError(httpError)).toBe(
      "Network request for 'getUpdates' failed! (connect ECONNREFUSED)",
    );
    expect(describeError("plain")).toBe("plain");
  });
});
