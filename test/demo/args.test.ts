import { describe, expect, it } from "vitest";
import { parseDemoArgs, UsageError } from "../../demo/args.js";

describe("demo flags", () => {
  it("reads --name value and --name=value over the defaults", () => {
    expect(parseDemoArgs(["--updates", "50", "--chats=3"])).toEqual({
      updates: 50,
      chats: 3,
      concurrency: 500,
      duration: 20,
      rate: 1000,
      webhook: false,
      cluster: 0,
    });
    expect(parseDemoArgs(["--cluster", "3"])).toMatchObject({ cluster: 3 });
    expect(parseDemoArgs(["--webhook", "--rate", "5"])).toMatchObject({ webhook: true, rate: 5 });
    expect(parseDemoArgs(["--help"])).toBe("help");
  });

  it.each([
    [["--bogus"], "unknown option --bogus"],
    [["--help", "--bogus"], "unknown option --bogus"],
    [["--updates", "-5"], '--updates must be a whole number >= 1, got "-5"'],
    [["--rate=1.5"], '--rate must be a whole number >= 1, got "1.5"'],
    [["--chats="], '--chats must be a whole number >= 1, got ""'],
    [["--duration"], "--duration needs a value"],
    [["now"], 'unexpected argument "now"'],
    [["--toString=1"], "unknown option --toString"],
    [["--webhook=yes"], "--webhook takes no value"],
    [["--cluster", "0"], '--cluster must be a whole number >= 1, got "0"'],
  ])("%j is a UsageError: %s", (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(new UsageError(message));
  });
});
