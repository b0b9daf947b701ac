import { describe, expect, it } from "vitest";
import { call, closeAfterEach, ids, start } from "./harness.js";

closeAfterEach();

describe("waitFor", () => {
  it("waitFor also sees conditions on the bot's side, which the server cannot see change", async () => {
    const api = await start();
    let handled = 0;
    const waiting = api.waitFor(() => handled === 1, 2_000);
    setTimeout(() => {
      handled = 1;
    }, 30);
    await expect(waiting).resolves.toBeUndefined();
  });

  it("waitFor sees updates dropped by a held poll's allowed_updates", async () => {
    const api = await start();
    const poll = call("getUpdates", { allowed_updates: ["message"], timeout: 5 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    api.pushCallbackQuery({ fromId: 1, data: "skipped" });
    await api.waitFor((a) => a.pending() === 0, 2_000);
    api.pushMessage(1);
    expect(ids((await poll).body.result)).toEqual([2]);
  });

  it("waitFor resolves on a state change and rejects with the predicate after a timeout", async () => {
    const api = await start();
    const waiting = api.waitFor((a) => a.pending() === 2);
    api.pushMessage(1);
    api.pushMessage(1);
    await expect(waiting).resolves.toBeUndefined();
    await expect(api.waitFor((a) => a.pending() === 99, 20)).rejects.toThrow(
      /within 20 ms: \(a\) => a\.pending\(\) === 99 \(pending 2/,
    );
  });
});
