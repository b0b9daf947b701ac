import createDebug from "debug";
import { afterEach, describe, expect, it } from "vitest";
import { logger, redact } from "../../src/util/log.js";

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
