import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  batchBody,
  doneBody,
  encodeLog,
  parseLog,
  RoundEncoder,
} from "../../src/journal/log-format.js";

const u = (id: number, text = "hi") => ({ update_id: id, text });

/** A log of a compaction at round 1, then rounds 2 and 3 as the writer encodes them. */
function sampleLog(): string {
  const encoder = new RoundEncoder();
  const parts = [
    encodeLog(1, 10, JSON.stringify([u(9)])),
    Buffer.from(encoder.encode(2, [batchBody(12, JSON.stringify([u(10), u(11, "é ✓")]))])),
    Buffer.from(encoder.encode(3, [doneBody([9, 10]), batchBody(13, JSON.stringify([u(12)]))])),
  ];
  return Buffer.concat(parts).toString("utf8");
}

const pendingIds = (text: string) => [...parseLog(text, "log").pending.keys()];

describe("the journal log format", () => {
  it("writes each record as CRC-32 in hex, a space, the JSON and a newline", () => {
    const lines = sampleLog().split("\n");
    expect(lines.pop()).toBe("");
    for (const line of lines) {
      const json = line.slice(9);
      expect(line.slice(0, 9)).toBe(`${crc32(json).toString(16).padStart(8, "0")} `);
      expect(JSON.parse(json)).toHaveProperty("r");
    }
    expect(JSON.parse(lines[0].slice(9))).toEqual({
      journal: "grammy-runner",
      version: 2,
      offset: 10,
      r: 1,
    });
    expect(JSON.parse(lines[3].slice(9))).toEqual({ r: 3, s: [9, 10] });
  });

  it("reads back the recent ids: the header's, then every batch's, done or not", () => {
    expect(parseLog(sampleLog(), "log").recent).toEqual([9, 10, 11, 12]);
    const header = encodeLog(4, 20, undefined, [5, 7, 19]).toString("utf8");
    expect(JSON.parse(header.slice(9))).toMatchObject({ offset: 20, recent: [5, 7, 19] });
    expect(parseLog(header, "log")).toMatchObject({ recent: [5, 7, 19], offset: 20 });
  });

  it("reads back the pending updates and the last offset, ignoring zeros at the end", () => {
    const read = parseLog<{ update_id: number }>(`${sampleLog()}\0\0\0`, "log");
    expect([...read.pending.values()]).toEqual([u(11, "é ✓"), u(12)]);
    expect(read.offset).toBe(13);
    expect(read.discarded).toBe(0);
  });

  it("drops a torn last round, even with good records of it after the torn one", () => {
    const lines = sampleLog().split("\n");
    // Round 3: its done record torn, its batch intact.
    lines[3] = `0${lines[3].slice(1)}`;
    expect(pendingIds(lines.join("\n"))).toEqual([9, 10, 11]);
    expect(parseLog(lines.join("\n"), "log").offset).toBe(12);
  });

  it("drops a partial last line, keeping the records before it", () => {
    const text = sampleLog();
    const read = parseLog(text.slice(0, -5), "log");
    expect([...read.pending.keys()]).toEqual([11]);
    expect(read.offset).toBe(12);
    expect(read.discarded).toBe(text.split("\n")[4].length - 4);
  });

  it("fails on a torn record followed by records of an earlier round", () => {
    const lines = sampleLog().split("\n");
    lines[1] = `0${lines[1].slice(1)}`;
    lines.splice(2, 0, lines[0]);
    expect(() => parseLog(lines.join("\n"), "log")).toThrow(/log is damaged: line 2/);
  });

  it("fails on a torn header rather than take the file for a journal", () => {
    const lines = sampleLog().split("\n");
    lines[0] = `0${lines[0].slice(1)}`;
    expect(() => parseLog(lines.join("\n"), "log")).toThrow(/not a grammy-runner journal/);
  });
});
