import { describe, expect, it } from "vitest";
import type { Update } from "../../src/testing/index.js";
import { call, closeAfterEach, ids, start } from "./harness.js";

closeAfterEach();

describe("getUpdates", () => {
  it("numbers updates from 1, confirms by offset and clamps limit", async () => {
    const api = await start();
    const pushed = api.pushMessages({ count: 150 });
    expect(ids(pushed.slice(0, 3))).toEqual([1, 2, 3]);
    expect(api.pushUpdate({ update_id: 500, message: pushed[0].message }).update_id).toBe(500);
    expect(api.pushMessage(1).update_id).toBe(501);
    expect(api.pending()).toBe(152);

    const two = await call("getUpdates", { limit: 2 });
    expect(ids(two.body.result)).toEqual([1, 2]);
    const many = await call("getUpdates", { offset: 3, limit: 1000 });
    expect(many.body.result).toHaveLength(100);
    expect(many.body.result[0].update_id).toBe(3);
    expect(api.stats.confirmedOffset).toBe(3);
    expect(api.pending()).toBe(150);
    const rest = await call("getUpdates", { offset: 151 });
    expect(ids(rest.body.result)).toEqual([500, 501]);
    await call("getUpdates", { offset: 502 });
    expect(api.pending()).toBe(0);
    expect(api.calls("getUpdates")).toEqual([
      { method: "getUpdates", params: { offset: 502 }, at: expect.any(Number) },
    ]);
  });

  it("keeps only the last N updates for offset -N", async () => {
    const api = await start();
    api.pushMessages({ count: 10 });
    const answer = await call("getUpdates", { offset: -3 });
    expect(ids(answer.body.result)).toEqual([8, 9, 10]);
    expect(api.pending()).toBe(3);
  });

  it("answers a held long poll as soon as updates are pushed, batching one tick's pushes", async () => {
    const api = await start();
    const events: string[] = [];
    const poll = call("getUpdates", { timeout: 30 }).then((answer) => {
      events.push("answered");
      return answer;
    });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    await call("getMe"); // a full round trip while the poll is held
    expect(events).toEqual([]);
    events.push("pushed");
    api.pushMessage(1, "a");
    api.pushMessage(2, "b");
    const answer = await poll;
    expect(events).toEqual(["pushed", "answered"]);
    expect(answer.body.result.map((u: Update) => u.message?.text)).toEqual(["a", "b"]);
  });

  it("answers [] when the long poll timeout elapses", async () => {
    const api = await start();
    const answer = await call("getUpdates", { timeout: 0.05 });
    expect(answer.body).toEqual({ ok: true, result: [] });
    api.pushMessage(1);
    expect(api.stats.delivered).toBe(0);
  });

  it("releases a held poll when the client aborts", async () => {
    const api = await start();
    const controller = new AbortController();
    const poll = call("getUpdates", { timeout: 30 }, { signal: controller.signal });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    controller.abort();
    await expect(poll).rejects.toThrow(/abort/i);
    await call("getMe");
    api.pushMessage(1);
    const next = await call("getUpdates", {});
    expect(next.status).toBe(200);
    expect(ids(next.body.result)).toEqual([1]);
    // Had the aborted poll still been held, it would have taken the update first.
    expect(api.stats).toMatchObject({ delivered: 1, redelivered: 0, maxConcurrentPolls: 1 });
  });

  it("ends the held poll with 409 when a second getUpdates arrives", async () => {
    const api = await start();
    const first = call("getUpdates", { timeout: 30 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const second = call("getUpdates", { timeout: 30 });
    const conflict = await first;
    expect(conflict.status).toBe(409);
    expect(conflict.body.description).toBe(
      "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    );
    api.pushMessage(1);
    expect(ids((await second).body.result)).toEqual([1]);
    expect(api.stats.maxConcurrentPolls).toBe(2);
  });

  it("filters by allowed_updates, which persists until changed, skipping the rest", async () => {
    const api = await start();
    api.pushMessage(1);
    api.pushCallbackQuery({ fromId: 1, data: "x" });
    api.pushEditedMessage(1, 1, "edited");
    const callbacks = await call("getUpdates", { allowed_updates: ["callback_query"] });
    expect(callbacks.body.result.map((u: Update) => u.callback_query?.data)).toEqual(["x"]);
    expect(api.pending()).toBe(1);
    api.pushMessage(1);
    api.pushCallbackQuery({ fromId: 2 });
    const again = await call("getUpdates", { offset: 3 });
    expect(ids(again.body.result)).toEqual([5]);
    // Back to Telegram's default: everything but chat_member and reactions.
    api.pushUpdate({ chat_member: {} as never });
    api.pushMessage(3);
    const defaults = await call("getUpdates", { offset: 6, allowed_updates: [] });
    expect(ids(defaults.body.result)).toEqual([7]);
  });

  it("delivers raw values as-is and confirms them with the update before them", async () => {
    const api = await start();
    api.pushMessage(1);
    api.pushRaw({});
    api.pushRaw({ update_id: "x" });
    api.pushRaw({ update_id: 10, message: { text: "raw" } });
    expect(api.pushMessage(1).update_id).toBe(11);
    const answer = await call("getUpdates", {});
    expect(answer.body.result.slice(1, 3)).toEqual([{}, { update_id: "x" }]);
    await call("getUpdates", { offset: 2 });
    expect(api.pending()).toBe(2);
  });

  it("confirms update_ids pushed out of order by value, not position", async () => {
    const api = await start();
    const { message } = api.pushMessage(1);
    api.pushUpdate({ update_id: 50, message });
    api.pushUpdate({ update_id: 30, message });
    api.pushUpdate({ update_id: 40, message });
    const answer = await call("getUpdates", { offset: 35 });
    expect(ids(answer.body.result)).toEqual([50, 40]);
    expect(api.pending()).toBe(2);
    await call("getUpdates", { offset: 51 });
    expect(api.pending()).toBe(0);
    expect(api.pushMessage(1).update_id).toBe(51);
  });

  it("forgets the oldest updates beyond maxUpdates", async () => {
    const api = await start({ maxUpdates: 3 });
    api.pushMessages({ count: 5 });
    expect(api.pending()).toBe(3);
    expect(ids((await call("getUpdates", {})).body.result)).toEqual([3, 4, 5]);
  });

  it("drains 20k updates in order without redelivery", async () => {
    const api = await start();
    api.pushMessages({ count: 20_000, chats: 50 });
    let offset = 0;
    let seen = 0;
    while (seen < 20_000) {
      const result: Update[] = (await call("getUpdates", { offset, limit: 100 })).body.result;
      expect(result).toHaveLength(100);
      for (const update of result) expect(update.update_id).toBe(++seen);
      offset = seen + 1;
    }
    await call("getUpdates", { offset });
    expect(api.pending()).toBe(0);
    expect(api.stats).toMatchObject({ delivered: 20_000, redelivered: 0, confirmedOffset: 20_001 });
  });
});
