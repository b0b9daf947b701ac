import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Bot, type Context, InputFile } from "grammy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BotApiFetch, createFetch, type FetchClientOptions } from "../../src/client/index.js";
import { run } from "../../src/index.js";
import type { FakeBotApi } from "../../src/testing/index.js";
import { failOnUnhandled, quiet, until, useFakeApi } from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();

let fetchFn: BotApiFetch | undefined;
afterEach(async () => {
  await fetchFn?.close();
  fetchFn = undefined;
});

/** A bot on the fake server whose API calls go through createFetch(). */
function fastBot(api: FakeBotApi, options?: FetchClientOptions, client?: object): Bot<Context> {
  fetchFn = createFetch(options);
  return new Bot(api.token, { client: { apiRoot: api.url, fetch: fetchFn, ...client } });
}

/** What a rejected promise rejected with; fails if it resolves. */
async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  const error = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error & Record<string, unknown>;
}

function expectNoToken(api: FakeBotApi, text: string): void {
  expect(text).not.toContain(api.token);
  expect(text).not.toContain(api.token.split(":")[1]);
}

/** A plain HTTP server on 127.0.0.1 for what the fake server cannot do. */
async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("createFetch() as grammY's client.fetch", () => {
  it("sends calls without payload and JSON payloads with nested objects", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    await bot.init();
    expect(bot.botInfo).toEqual(api.botInfo);
    const sent = await bot.api.sendMessage(7, "héllo ✓", {
      reply_markup: { inline_keyboard: [[{ text: "a", callback_data: "b" }]] },
      reply_parameters: undefined,
    });
    expect(sent.text).toBe("héllo ✓");
    expect(await bot.api.setMyCommands([{ command: "start", description: "go" }])).toBe(true);
    expect(api.calls("sendMessage")[0].params).toEqual({
      chat_id: 7,
      text: "héllo ✓",
      reply_markup: { inline_keyboard: [[{ text: "a", callback_data: "b" }]] },
    });
    expect(api.calls("setMyCommands")[0].params.commands).toEqual([
      { command: "start", description: "go" },
    ]);
  });

  it("uploads InputFiles from a buffer, a stream, a file path and a URL, in one media group too", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    const path = join(tmpdir(), `fast-client-${process.pid}.bin`);
    writeFileSync(path, Buffer.alloc(3000, 1));
    const files = createServer((_req, res) => res.end(Buffer.alloc(4000, 2)));
    const filesUrl = await listen(files);
    try {
      await bot.api.sendDocument(1, new InputFile(Buffer.alloc(1000, 3), "a.bin"));
      await bot.api.sendDocument(1, new InputFile(Readable.from([Buffer.alloc(2000, 4)]), "b.bin"));
      await bot.api.sendDocument(1, new InputFile(path, "c.bin"), { caption: "path" });
      await bot.api.sendDocument(1, new InputFile(new URL(`${filesUrl}/d.bin`), "d.bin"));
      await bot.api.sendMediaGroup(1, [
        { type: "photo", media: new InputFile(Buffer.alloc(10), "p1.jpg") },
        { type: "photo", media: new InputFile(Buffer.alloc(20), "p2.jpg") },
      ]);
    } finally {
      files.close();
    }
    const docs = api.calls("sendDocument").map((c) => c.params);
    expect(docs.map((p) => p[String(p.document).slice("attach://".length)])).toEqual(
      [1000, 2000, 3000, 4000].map((size, i) => ({ filename: `${"abcd"[i]}.bin`, size })),
    );
    expect(docs[2].caption).toBe("path");
    const group = api.calls("sendMediaGroup")[0].params;
    const media = group.media as { media: string }[];
    expect(
      media.map((m) => (group[m.media.slice("attach://".length)] as { size: number }).size),
    ).toEqual([10, 20]);
  });

  it("streams a large upload instead of buffering it", async () => {
    const { api } = ctx;
    let received = 0;
    const server = createServer((req, res) => {
      req.on("data", (chunk: Buffer) => {
        received += chunk.length;
      });
      req.on("end", () => res.end(JSON.stringify({ ok: true, result: true })));
    });
    const url = await listen(server);
    fetchFn = createFetch();
    const bot = new Bot(api.token, { client: { apiRoot: url, fetch: fetchFn } });
    const chunk = Buffer.alloc(256 * 1024, 5);
    async function* big(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 32; i++) yield chunk;
      // Buffered, the body would not leave before this generator ends: deadlock.
      await until(() => received >= 16 * chunk.length);
      yield chunk;
    }
    try {
      await expect(bot.api.sendDocument(1, new InputFile(big(), "big.bin"))).resolves.toBe(true);
    } finally {
      server.close();
    }
    expect(received).toBeGreaterThan(33 * chunk.length);
  });

  it("aborts a long poll at once when its signal fires, and the server sees it go", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    const controller = new AbortController();
    const poll = bot.api.getUpdates({ timeout: 30 }, controller.signal as never);
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const started = Date.now();
    controller.abort();
    const error = await failure(poll);
    expect(Date.now() - started).toBeLessThan(5_000); // not the 30 s poll
    expect(error.name).toBe("HttpError");
    expect((error.error as Error).message).toMatch(/getUpdates was aborted$/);
    // The connection was dropped, so a new poll is not a second one open at once.
    await bot.api.getUpdates({ timeout: 0 });
    expect(api.stats.maxConcurrentPolls).toBe(1);
  });

  it("drops a call aborted while it waits for a free connection, before sending it", async () => {
    const { api } = ctx;
    const bot = fastBot(api, { connections: 1 });
    const poll = bot.api.getUpdates({ timeout: 30 });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const controller = new AbortController();
    const queued = bot.api.sendMessage(1, "never", {}, controller.signal as never);
    controller.abort();
    expect((await failure(queued)).name).toBe("HttpError");
    api.pushMessage(1);
    await expect(poll).resolves.toHaveLength(1);
    await bot.api.sendMessage(1, "after");
    expect(api.calls("sendMessage").map((c) => c.params.text)).toEqual(["after"]);
  });

  it("keeps grammY's timeoutSeconds", async () => {
    const { api } = ctx;
    const bot = fastBot(api, undefined, { timeoutSeconds: 0.2 });
    api.inject({ type: "delay", ms: 3000 }, { method: "getMe" });
    const error = await failure(bot.api.getMe());
    expect(error.name).toBe("HttpError");
    expect((error.error as Error).message).toBe("Request to 'getMe' timed out after 0.2 seconds");
  });

  it("goes on over new connections when the server closes keep-alive ones", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    api.inject({ type: "close" }, { method: "sendMessage", times: 3 });
    for (let i = 0; i < 5; i++) await bot.api.sendMessage(1, `m${i}`);
    // Closed after m0, m1, m2. (undici also closes the first connection opened after a
    // "Connection: close" after one call, so m4 may open a fifth.)
    const afterFaults = api.stats.connections;
    expect(afterFaults).toBeGreaterThanOrEqual(4);
    for (let i = 5; i < 8; i++) await bot.api.sendMessage(1, `m${i}`);
    expect(api.stats.connections).toBe(afterFaults);
    api.closeIdleConnections();
    // Wait for the client to see the close, as it would between two real calls.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await bot.api.sendMessage(1, "after");
    expect(api.stats.connections).toBe(afterFaults + 1);
    expect(api.calls("sendMessage")).toHaveLength(9);
  });

  it("answers 5xx Bot API errors as GrammyError and non-JSON answers as an informative HttpError", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    api.inject({ type: "http", status: 502 }, { method: "sendMessage" });
    const grammyError = await failure(bot.api.sendMessage(1, "x"));
    expect(grammyError).toMatchObject({ name: "GrammyError", error_code: 502 });
    api.inject({ type: "non_json" }, { method: "sendMessage" });
    const httpError = await failure(bot.api.sendMessage(1, "x"));
    expect(httpError.name).toBe("HttpError");
    expect(httpError.message).toBe("Network request for 'sendMessage' failed! (200: OK)");
    const cause = httpError.error as Error & { type: string };
    expect(cause.type).toBe("invalid-json");
    expect(cause.message).toContain("/bot<token>/sendMessage (HTTP 200 OK, text/html, 17 bytes)");
    expectNoToken(api, cause.message);
  });

  it("works with a transformer that retries 429 and one that logs", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    const log: string[] = [];
    bot.api.config.use(async (prev, method, payload, signal) => {
      const result = await prev(method, payload, signal);
      log.push(`${method} ${result.ok}`);
      return result;
    });
    bot.api.config.use(async (prev, method, payload, signal) => {
      for (;;) {
        const result = await prev(method, payload, signal);
        if (result.ok || result.error_code !== 429) return result;
        await new Promise((r) => setTimeout(r, (result.parameters?.retry_after ?? 0) * 1000));
      }
    });
    api.inject({ type: "retry_after", seconds: 0 }, { method: "sendMessage", times: 2 });
    await expect(bot.api.sendMessage(1, "x")).resolves.toMatchObject({ text: "x" });
    expect(api.stats.methodCalls.sendMessage).toBe(3);
    expect(log).toEqual(["sendMessage false", "sendMessage false", "sendMessage true"]);
  });

  it("sends many concurrent calls over a small pool", async () => {
    const { api } = ctx;
    const bot = fastBot(api, { connections: 2 });
    const texts = Array.from({ length: 300 }, (_, i) => `m${i}`);
    const sent = await Promise.all(texts.map((t, i) => bot.api.sendMessage(i, t)));
    expect(sent.map((m) => m.text)).toEqual(texts);
    expect(api.stats.connections).toBe(2);
  });

  it("refuses a proxy agent in baseFetchConfig with an error naming the fix", async () => {
    const { api } = ctx;
    class ProxyAgent extends HttpsAgent {}
    const bot = fastBot(api, undefined, { baseFetchConfig: { agent: new ProxyAgent() } });
    const error = await failure(bot.api.getMe());
    expect(error.name).toBe("HttpError");
    const cause = error.error as Error;
    expect(cause).toBeInstanceOf(TypeError);
    expect(cause.message).toContain("`client.baseFetchConfig.agent` is a ProxyAgent");
    expect(cause.message).toContain("createFetch({ dispatcher: new ProxyAgent(");
    expect(api.stats.methodCalls.getMe).toBeUndefined();
  });

  it("refuses baseFetchConfig fields it cannot honour", async () => {
    const { api } = ctx;
    const bot = fastBot(api, undefined, { baseFetchConfig: { timeout: 5 } });
    const error = await failure(bot.api.getMe());
    expect((error.error as Error).message).toContain("`timeout` in the fetch options");
  });

  it("reports network errors as HttpError with the reason and without the token", async () => {
    const { api } = ctx;
    const closed = createServer();
    const url = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    fetchFn = createFetch();
    const bot = new Bot(api.token, { client: { apiRoot: url, fetch: fetchFn } });
    const refused = await failure(bot.api.getMe());
    expect(refused.name).toBe("HttpError");
    const cause = refused.error as Error & { code: string };
    expect(cause.code).toBe("ECONNREFUSED");
    expect(cause.message).toBe(
      `request to ${url}/bot<token>/getMe failed, reason: connect ECONNREFUSED ${url.slice(7)}`,
    );
    const onFake = fastBot(api);
    api.inject({ type: "drop" }, { method: "getMe" });
    const dropped = (await failure(onFake.api.getMe())).error as Error & { code: string };
    expect(dropped.code).toBe("UND_ERR_SOCKET");
    expect(dropped.message).toMatch(
      /^request to .*\/bot<token>\/getMe failed, reason: other side closed$/,
    );
    expectNoToken(api, `${cause.message} ${dropped.message} ${String(cause.stack)}`);
  });

  it("opens new connections after close(), for a bot that starts again", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    await bot.api.getMe();
    await fetchFn?.close();
    await bot.api.getMe();
    expect(api.stats.connections).toBe(2);
  });

  it("runs a whole bot under run(): replies, and stop() ends the long poll at once", async () => {
    const { api } = ctx;
    const bot = fastBot(api);
    bot.on("message:text", (c) => c.reply(c.message.text));
    api.pushMessages({ count: 200, chats: 20 });
    const handle = run(bot, { runner: quiet });
    await api.waitFor((a) => a.calls("sendMessage").length === 200);
    await api.waitFor((a) => a.stats.confirmedOffset === 201);
    expect(api.stats.connections).toBeLessThanOrEqual(32); // the pool's default size
    const started = Date.now();
    await handle.stop();
    expect(Date.now() - started).toBeLessThan(5_000); // not the 30 s poll
  });
});

describe("createFetch() options", () => {
  let api: FakeBotApi;
  beforeEach(() => {
    api = ctx.api;
  });

  it("checks its options when called", () => {
    expect(() => createFetch({ connections: 0 })).toThrow(
      new RangeError(
        "Option `options.connections` must be an integer >= 1 (or Infinity), but got 0.",
      ),
    );
    expect(() => createFetch({ conections: 2 } as FetchClientOptions)).toThrow(
      /Did you mean `connections`/,
    );
    expect(() => createFetch({ dispatcher: {} as never })).toThrow(/must be an undici Dispatcher/);
    expect(api.stats.connections).toBe(0);
  });
});
