import { describe, expect, it } from "vitest";
import { fitWidth, StatusLine, type StatusStream } from "../../demo/status-line.js";

function stream(isTTY: boolean, columns?: number): StatusStream & { text: string } {
  return {
    isTTY,
    columns,
    text: "",
    write(chunk: string) {
      this.text += chunk;
    },
  };
}

const parts = ["1000 upd/s", "running 20/500", "parked 3", "p50 3 p99 12 ms", "handled 12345"];

describe("demo status line", () => {
  it("keeps the leading parts that fit and never exceeds the width", () => {
    expect(fitWidth(parts, 40)).toBe("1000 upd/s | running 20/500 | parked 3");
    expect(fitWidth(parts, 5)).toBe("1000 ");
    expect(fitWidth(parts, 200)).toBe(parts.join(" | "));
  });

  it("on a terminal: redraws in place within columns - 3 (80 if unknown), clears before other output", () => {
    const out = stream(true);
    const line = new StatusLine(out);
    line.show(parts);
    const drawn = out.text;
    expect(drawn.startsWith("\r")).toBe(true);
    expect(drawn.endsWith("\x1b[K")).toBe(true);
    expect(drawn.length - "\r\x1b[K".length).toBeLessThanOrEqual(77);
    out.text = "";
    line.print("stopping");
    expect(out.text).toBe("\r\x1b[Kstopping\n");
    out.text = "";
    line.print("again");
    expect(out.text).toBe("again\n"); // nothing left to clear
    const narrow = stream(true, 30);
    new StatusLine(narrow).show(parts);
    expect(narrow.text).toBe("\r1000 upd/s | running 20/500\x1b[K");
  });

  it("keep() leaves the status as a line of its own", () => {
    const out = stream(true, 80);
    const line = new StatusLine(out);
    line.show(["a", "b"]);
    line.keep();
    expect(out.text).toBe("\ra | b\x1b[K\ra | b\x1b[K\n");
  });

  it("elsewhere: one full line per status, no control characters", () => {
    const out = stream(false);
    const line = new StatusLine(out);
    line.show(parts);
    line.show(parts);
    line.print("done");
    expect(out.text).toBe(`${parts.join(" | ")}\n${parts.join(" | ")}\ndone\n`);
  });
});
