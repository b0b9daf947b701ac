import { GrammyError, HttpError } from "grammy";
import { describe, expect, it } from "vitest";
import { type Answer, call, closeAfterEach, ids, newBot, start } from "./harness.js";

closeAfterEach();

describe("faults", () => {
  it("validates faults with clear errors", async () => {
    const api = await start();
    expect(() => api.inject({ type: "http", status: 42 })).toThrow(/fault\.status/);
    // 1xx is an interim response in Node: the client would wait for good.
    expect(() => api.inject({ type: "http", status: 103 })).toThrow(
      /fault\.status.*from 200 to 599.*103/,
    );
    expect(() => api.inject({ type: "result", value: { big: 1n } })).toThrow(
      /fault\.value` must be JSON-serializable/,
    );
    expect(() => api.inject({ type: "boom" } as never)).toThrow(/fault\.type/);
    expect(() => api.inject({ type: "drop" }, { times: 0 })).toThrow(/options\.times/);
  });

  it("answers http, 401, 409 and 429 faults in order, then normally", async () => {
    const api = await start();
    api.pushMessage(1);
    api.inject({ type: "http", status: 502 });
    api.inject({ type: "http", status: 500, description: "boom" }, { times: 2 });
    api.inject({ type: "unauthorized" });
    api.inject({ type: "conflict" });
    api.inject({ type: "retry_after", seconds: 3 });
    const answers: Answer[] = [];
    for (let i = 0; i < 7; i++) answers.push(await call("getUpdates", { offset: 1 }));
    expect(answers.map((a) => [a.status, a.body.description])).toEqual([
      [502, "Bad Gateway"],
      [500, "boom"],
      [500, "boom"],
      [401, "Unauthorized"],
      [409, expect.stringMatching(/^Conflict: terminated by other getUpdates request/)],
      [429, "Too Many Requests: retry after 3"],
      [200, undefined],
    ]);
    expect(answers[5].body.parameters).toEqual({ retry_after: 3 });
    expect(ids(answers[6].body.result)).toEqual([1]);
    expect(api.stats).toMatchObject({ getUpdatesCalls: 7, delivered: 1 });
  });

  it("applies faults only to their method and surfaces them as grammY errors", async () => {
    const api = await start();
    const bot = newBot();
    api.inject({ type: "retry_after", seconds: 5 }, { method: "sendMessage" });
    expect(await bot.api.getMe()).toEqual(api.botInfo);
    const error = await bot.api.sendMessage(1, "x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrammyError);
    expect((error as GrammyError).parameters.retry_after).toBe(5);
    await expect(bot.api.sendMessage(1, "y")).resolves.toMatchObject({ text: "y" });
    expect(api.calls("sendMessage")).toHaveLength(2);
  });

  it("answers non-JSON, arbitrary results and dropped connections", async () => {
    const api = await start();
    api.inject({ type: "non_json" });
    api.inject({ type: "result", value: null });
    api.inject({ type: "result", value: [{}] });
    api.inject({ type: "drop" }, { method: "getMe" });
    const html = await call("getUpdates", {});
    expect([html.status, html.type, html.body]).toEqual([200, "text/html", "<html>oops</html>"]);
    expect((await call("getUpdates", {})).body).toEqual({ ok: true, result: null });
    expect((await call("getUpdates", {})).body).toEqual({ ok: true, result: [{}] });
    await expect(newBot().api.getMe()).rejects.toBeInstanceOf(HttpError);
    expect(api.stats.methodCalls.getMe).toBe(1);
  });

  it("delays an answer without changing it", async () => {
    const api = await start();
    api.pushMessage(1);
    api.inject({ type: "delay", ms: 50 });
    const order: string[] = [];
    const slow = call("getUpdates", {}).then((a) => order.push(`slow ${a.body.result.length}`));
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    await call("getMe").then(() => order.push("getMe"));
    await slow;
    expect(order).toEqual(["getMe", "slow 1"]);
  });
});
