import { describe, expect, it } from "vitest";
import { call, closeAfterEach, start } from "./harness.js";

closeAfterEach();

describe("stats", () => {
  it("counts deliveries and redeliveries", async () => {
    const api = await start();
    api.pushMessages({ count: 3 });
    await call("getUpdates", { limit: 2 });
    await call("getUpdates", {});
    expect(api.stats).toMatchObject({ delivered: 5, redelivered: 2, getUpdatesCalls: 2 });
    await call("getUpdates", { offset: 4 });
    expect(api.stats).toMatchObject({ delivered: 5, redelivered: 2, confirmedOffset: 4 });
    expect(api.stats.methodCalls).toEqual({ getUpdates: 3 });
    api.resetCalls();
    expect(api.stats).toMatchObject({
      delivered: 0,
      getUpdatesCalls: 0,
      confirmedOffset: 4,
      methodCalls: {},
    });
  });
});
