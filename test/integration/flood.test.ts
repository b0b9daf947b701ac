import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useFakeApi } from "../helpers/bot.js";

interface FloodReport {
  handled: number;
  inOrder: boolean;
  peakParked: number;
  maxRssMb: number;
}

const ctx = useFakeApi();
const fixture = fileURLToPath(new URL("../fixtures/.build/flood-bot.cjs", import.meta.url));

describe("a one-chat flood under sequentialize", () => {
  it("handles 100,000 updates of one chat in order, with bounded parking and memory", async () => {
    const { api } = ctx;
    const updates = 100_000;
    // The flood is waiting on the server before the bot starts: the worst case for parking.
    api.pushMessages({ count: updates, chats: 1, firstChatId: 7 });
    const report = await new Promise<FloodReport>((resolve, reject) => {
      const child = fork(fixture, [], {
        env: {
          ...process.env,
          FLOOD_UPDATES: String(updates),
          FLOOD_API: api.url,
          FLOOD_TOKEN: api.token,
        },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        // Unbounded parking (100,000 updates at about 6 KB each) could not fit in this
        // heap and would crash the bot; a bounded one fits however V8 sizes its heap.
        execArgv: ["--max-old-space-size=192"],
      });
      let received: FloodReport | undefined;
      child.on("message", (message) => {
        received = message as FloodReport;
      });
      child.on("error", reject);
      child.on("exit", (code) =>
        received !== undefined && code === 0
          ? resolve(received)
          : reject(new Error(`flood bot exited with ${code} and no report`)),
      );
    });
    expect(report.handled).toBe(updates);
    expect(report.inOrder).toBe(true);
    expect(api.stats.redelivered).toBe(0);
    expect(api.stats.confirmedOffset).toBe(updates + 1);
    // Parking is capped (sink.maxParked, default 5,000), so memory stays flat.
    expect(report.peakParked).toBeGreaterThan(100);
    expect(report.peakParked).toBeLessThanOrEqual(5_000);
    expect(report.maxRssMb).toBeLessThan(300);
  }, 60_000);
});
