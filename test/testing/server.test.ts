import { describe, expect, it } from "vitest";
import { call, closeAfterEach, start } from "./harness.js";

closeAfterEach();

describe("routing and close()", () => {
  it("answers 401 for a wrong token and 404 for unknown paths, as JSON", async () => {
    const api = await start();
    const wrong = await fetch(`${api.url}/bot1:WRONG_TOKEN_xxxxxxxxxxxxxxxxxxxxxxx/getMe`, {
      method: "POST",
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("content-type")).toBe("application/json");
    expect(await wrong.json()).toEqual({ ok: false, error_code: 401, description: "Unauthorized" });
    const unknown = await fetch(`${api.url}/nothing/here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ ok: false, error_code: 404 });
    expect(api.stats.methodCalls).toEqual({});
  });

  it("never crashes on odd input: a request it cannot handle gets a 400", async () => {
    const api = await start();
    const odd = await call("sendMessage", { chat_id: { toString: 1 }, text: "x" });
    expect(odd.status).toBe(400);
    expect(odd.body).toMatchObject({ ok: false, error_code: 400 });
    // A parameter named __proto__ is not taken for the object's prototype.
    const proto = await fetch(
      `${api.url}/bot${api.token}/getUpdates?__proto__=${encodeURIComponent('{"offset":5}')}`,
    );
    expect(proto.status).toBe(200);
    expect(api.stats.confirmedOffset).toBe(0);
    // A method named like an Object.prototype member is counted like any other.
    await call("constructor");
    expect(api.stats.methodCalls.constructor).toBe(1);
    expect((await call("getMe")).status).toBe(200);
  });

  it("answers 400 to odd input after a delay fault too, instead of throwing in the timer", async () => {
    const api = await start();
    api.inject({ type: "delay", ms: 20 }, { method: "sendMessage" });
    const odd = await call("sendMessage", { chat_id: { toString: 1 }, text: "x" });
    expect(odd.status).toBe(400);
    expect(odd.body).toMatchObject({ ok: false, error_code: 400 });
    expect((await call("getMe")).status).toBe(200);
  });

  it("close() ends held polls and waiters, frees the port and is idempotent", async () => {
    const servers = () =>
      process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;
    const before = servers();
    const api = await start();
    expect(servers()).toBe(before + 1);
    const poll = call("getUpdates", { timeout: 30 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const waiting = api.waitFor(() => false);
    const closing = api.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(poll).rejects.toThrow();
    await closing;
    await api.close();
    expect(servers()).toBe(before);
    await expect(fetch(`${api.url}/bot${api.token}/getMe`)).rejects.toThrow();
  });
});
