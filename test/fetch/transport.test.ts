import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AbortSignal as GrammySignal } from "abort-controller";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BotApiError } from "../../src/fetch/node-http.js";
import { createTransport } from "../../src/fetch/transport.js";
import { type BotAdapter, createUpdateFetcher } from "../../src/index.js";
import { describeError } from "../../src/util/log.js";
import { failOnUnhandled } from "../helpers/bot.js";

failOnUnhandled();

const TOKEN = "987654321:SECRET_token_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SECRET = TOKEN.split(":")[1];

interface Received {
  method: string | undefined;
  path: string;
  contentType: string | undefined;
  body: unknown;
  /** Which connection carried it, numbered from 1. */
  connection: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, received: Received) => void;

/** A bare HTTP server that records requests and answers through `handler`. */
interface TestServer {
  url: string;
  received: Received[];
  connections: { opened: number; closed: number };
  /** Requests whose connection closed before they were answered. */
  abandoned: number;
  handler: Handler;
}

let server: Server;
let state: TestServer;

beforeEach(async () => {
  const connections = { opened: 0, closed: 0 };
  state = {
    url: "",
    received: [],
    connections,
    abandoned: 0,
    handler: (_req, res) => answer(res, 200, { ok: true, result: [] }),
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const received: Received = {
        method: req.method,
        path: req.url ?? "",
        contentType: req.headers["content-type"],
        body: text === "" ? undefined : JSON.parse(text),
        connection: (req.socket as unknown as { id: number }).id,
      };
      state.received.push(received);
      res.on("close", () => {
        if (!res.writableFinished) state.abandoned++;
      });
      state.handler(req, res, received);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (socket) => {
    (socket as unknown as { id: number }).id = ++connections.opened;
    socket.on("close", () => connections.closed++);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  vi.useRealTimers();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function answer(res: ServerResponse, status: number, body: unknown, type = "application/json") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** What `createTransport` reads of a grammY bot. */
function botLike(options: Record<string, unknown> = {}, token: string | null = TOKEN) {
  return {
    token,
    handleUpdate: async () => {},
    errorHandler: () => {},
    api: {
      token,
      options: { apiRoot: state.url, ...options },
      getUpdates: vi.fn(async () => []),
    },
  };
}

function nodeHttp(options?: Record<string, unknown>) {
  return createTransport<{ update_id: number }>(botLike(options), "node-http");
}

const params = { offset: 7, limit: 100, timeout: 0 };

function signal(): { controller: AbortController; signal: AbortSignal } {
  const controller = new AbortController();
  return { controller, signal: controller.signal };
}

async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  return promise.then(
    () => {
      throw new Error("resolved, expected a rejection");
    },
    (error: Error & Record<string, unknown>) => error,
  );
}

function expectNoToken(error: Error): void {
  for (const text of [error.message, String(error.stack), describeError(error)]) {
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(SECRET);
  }
}

describe("node-http transport requests", () => {
  it("POSTs the parameters as JSON to <apiRoot>/bot<token>/getUpdates and returns result", async () => {
    const updates = [{ update_id: 7 }, { update_id: 8 }];
    state.handler = (_req, res) => answer(res, 200, { ok: true, result: updates });
    const transport = nodeHttp();
    const allowed = { ...params, allowed_updates: ["message"] };
    await expect(transport.getUpdates(allowed, signal().signal)).resolves.toEqual(updates);
    expect(state.received).toEqual([
      {
        method: "POST",
        path: `/bot${TOKEN}/getUpdates`,
        contentType: "application/json",
        body: allowed,
        connection: 1,
      },
    ]);
    transport.close();
  });

  it('uses the /test/ path with environment "test"', async () => {
    const transport = nodeHttp({ environment: "test" });
    await transport.getUpdates(params, signal().signal);
    expect(state.received[0].path).toBe(`/bot${TOKEN}/test/getUpdates`);
    transport.close();
  });

  it("uses the client's buildUrl when there is one", async () => {
    const buildUrl = vi.fn(
      (root: string, token: string, method: string, env: string) =>
        new URL(`${root}/custom/${token}/${env}/${method}?x=1`),
    );
    const transport = nodeHttp({ buildUrl });
    await transport.getUpdates(params, signal().signal);
    expect(buildUrl).toHaveBeenCalledWith(state.url, TOKEN, "getUpdates", "prod");
    expect(state.received[0].path).toBe(`/custom/${TOKEN}/prod/getUpdates?x=1`);
    transport.close();
  });

  it("keeps one connection alive across calls and close() ends it", async () => {
    const transport = nodeHttp();
    for (let i = 0; i < 5; i++) await transport.getUpdates(params, signal().signal);
    expect(state.received.map((r) => r.connection)).toEqual([1, 1, 1, 1, 1]);
    expect(state.connections).toEqual({ opened: 1, closed: 0 });
    transport.close();
    await vi.waitFor(() => expect(state.connections.closed).toBe(1));
    // Usable again after close(), on a new connection.
    await transport.getUpdates(params, signal().signal);
    expect(state.received.at(-1)?.connection).toBe(2);
    transport.close();
    transport.close();
  });

  it("parses a large answer that arrives in many chunks", async () => {
    const updates = Array.from({ length: 100 }, (_, i) => ({
      update_id: i + 1,
      message: { text: `ü€ ${"x".repeat(2_000)}` },
    }));
    state.handler = (_req, res) => {
      const text = Buffer.from(JSON.stringify({ ok: true, result: updates }));
      res.writeHead(200, { "content-type": "application/json" });
      // Split inside multi-byte characters on purpose.
      for (let i = 0; i < text.length; i += 1_001) res.write(text.subarray(i, i + 1_001));
      res.end();
    };
    const transport = nodeHttp();
    await expect(transport.getUpdates(params, signal().signal)).resolves.toEqual(updates);
    transport.close();
  });
});

describe("node-http transport errors", () => {
  it("turns a JSON error answer into an error with error_code, description and parameters", async () => {
    state.handler = (_req, res) =>
      answer(res, 429, {
        ok: false,
        error_code: 429,
        description: "Too Many Requests: retry after 3",
        parameters: { retry_after: 3 },
      });
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error).toBeInstanceOf(BotApiError);
    expect(error).toMatchObject({
      ok: false,
      method: "getUpdates",
      error_code: 429,
      description: "Too Many Requests: retry after 3",
      parameters: { retry_after: 3 },
    });
    expect(error.message).toBe(
      "Call to 'getUpdates' failed! (429: Too Many Requests: retry after 3)",
    );
    transport.close();
  });

  it("answers 401 with a token-free error", async () => {
    state.handler = (_req, res) =>
      answer(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error).toMatchObject({ error_code: 401, description: "Unauthorized", parameters: {} });
    expect(describeError(error)).toBe("401 Unauthorized");
    expectNoToken(error);
    transport.close();
  });

  it("takes the HTTP status when a JSON error answer has no error_code", async () => {
    state.handler = (_req, res) => answer(res, 500, { ok: false });
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error).toMatchObject({ error_code: 500, parameters: {} });
    transport.close();
  });

  it("takes error_code from an ok: false answer sent with status 200", async () => {
    state.handler = (_req, res) =>
      answer(res, 200, { ok: false, error_code: 409, description: "Conflict: webhook" });
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error).toMatchObject({ error_code: 409, description: "Conflict: webhook" });
    transport.close();
  });

  it.each([
    ["an HTML page", 502, "<html>Bad Gateway</html>", "text/html"],
    ["an empty body", 200, "", "text/plain"],
    ["truncated JSON", 200, '{"ok":true,"result":[', "application/json"],
  ])("answers %s with a plain Error, no error_code", async (_, status, body, type) => {
    state.handler = (_req, res) => answer(res, status, body, type);
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error).not.toBeInstanceOf(BotApiError);
    expect(error.error_code).toBeUndefined();
    expect(error.message).toMatch(new RegExp(`HTTP ${status} with a body that is not JSON`));
    expectNoToken(error);
    transport.close();
  });

  it("answers 2xx JSON that is not a Bot API answer with a plain Error", async () => {
    state.handler = (_req, res) => answer(res, 200, [1, 2]);
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error.error_code).toBeUndefined();
    expect(error.message).toMatch(/not a Bot API answer/);
    transport.close();
  });

  it("rejects with a token-free network error when the connection drops", async () => {
    state.handler = (req) => req.socket.destroy();
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error.message).toMatch(/^getUpdates failed: network error \(socket hang up\)$/);
    expectNoToken(error);
    transport.close();
  });

  it("rejects when the connection drops in the middle of the answer", async () => {
    state.handler = (req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 1000 });
      res.write('{"ok":true,');
      setTimeout(() => req.socket.destroy(), 10);
    };
    const transport = nodeHttp();
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error.message).toMatch(/getUpdates failed/);
    transport.close();
  });

  it("rejects with a token-free error when nothing listens", async () => {
    const transport = createTransport(
      { ...botLike(), api: { ...botLike().api, options: { apiRoot: "http://127.0.0.1:1" } } },
      "node-http",
    );
    const error = await rejectionOf(transport.getUpdates(params, signal().signal));
    expect(error.message).toMatch(/network error \(connect ECONNREFUSED/);
    expectNoToken(error);
  });
});

describe("node-http transport abort and timeout", () => {
  it("destroys a held request at once when the signal aborts", async () => {
    state.handler = () => {}; // holds the request
    const transport = nodeHttp();
    const { controller, signal: s } = signal();
    const pending = rejectionOf(transport.getUpdates({ ...params, timeout: 30 }, s));
    await vi.waitFor(() => expect(state.received).toHaveLength(1));
    const started = performance.now();
    controller.abort();
    const error = await pending;
    expect(performance.now() - started).toBeLessThan(100);
    expect(error.name).toBe("AbortError");
    await vi.waitFor(() => expect(state.abandoned).toBe(1));
    transport.close();
  });

  it("sends nothing when the signal is already aborted", async () => {
    const transport = nodeHttp();
    const { controller, signal: s } = signal();
    controller.abort();
    const error = await rejectionOf(transport.getUpdates(params, s));
    expect(error.name).toBe("AbortError");
    expect(state.received).toHaveLength(0);
  });

  it("gives up on a request after the long-polling timeout plus 10 s", async () => {
    state.handler = () => {}; // a dead connection: never answers
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const transport = nodeHttp();
    let settled = false;
    const pending = rejectionOf(transport.getUpdates({ ...params, timeout: 5 }, signal().signal));
    void pending.then(() => {
      settled = true;
    });
    // Not vi.waitFor: under fake timers it advances the clock itself.
    while (state.received.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(14_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await pending;
    expect(error.message).toBe("getUpdates timed out after 15 s");
    expect(error.error_code).toBeUndefined();
    while (state.abandoned === 0) await new Promise((resolve) => setImmediate(resolve));
    transport.close();
  });
});

describe("runner.transport option", () => {
  function fetcherWith(transport: unknown, bot: object = botLike()) {
    return () =>
      createUpdateFetcher(bot as BotAdapter<{ update_id: number }, unknown>, {
        transport: transport as "grammy",
      });
  }

  it.each([
    ["fast", '"fast"'],
    ["Node-HTTP", '"Node-HTTP"'],
    [42, "42"],
    [null, "null"],
    [true, "true"],
  ])("rejects %j with a TypeError naming the option and the expected values", (value, shown) => {
    expect(fetcherWith(value)).toThrow(
      new TypeError(
        `Option \`runner.transport\` must be one of "grammy", "node-http", but got ${shown}.`,
      ),
    );
  });

  it("suggests `transport` for a typo", () => {
    expect(() =>
      createUpdateFetcher(
        botLike() as BotAdapter<{ update_id: number }, unknown>,
        {
          transprot: "node-http",
        } as never,
      ),
    ).toThrow(/Unknown option `runner.transprot`.*Did you mean `transport`\?/);
  });

  it("accepts both values and undefined", () => {
    expect(fetcherWith(undefined)).not.toThrow();
    expect(fetcherWith("grammy")).not.toThrow();
    expect(fetcherWith("node-http")).not.toThrow();
  });

  it('"node-http" needs the bot token', () => {
    expect(fetcherWith("node-http", botLike({}, null))).toThrow(
      new TypeError(
        'Option `runner.transport` "node-http" needs the bot token (`bot.token`), which the given bot lacks.',
      ),
    );
    // The default transport does not.
    expect(fetcherWith("grammy", botLike({}, null))).not.toThrow();
  });

  it('"node-http" rejects an API root it cannot reach without showing the token', () => {
    for (const apiRoot of ["ftp://example.com", "not a url", 42]) {
      const make = fetcherWith("node-http", botLike({ apiRoot }));
      expect(make).toThrow(TypeError);
      try {
        make();
      } catch (error) {
        expect((error as Error).message).toMatch(/^Option `runner.transport` "node-http"/);
        expect((error as Error).message).not.toContain(SECRET);
      }
    }
  });

  it("defaults to https://api.telegram.org and reads bot.token when bot.api has none", () => {
    const buildUrl = vi.fn(() => "https://example.com/x");
    const bot = botLike({ buildUrl });
    bot.api.options.apiRoot = undefined as unknown as string;
    (bot.api as { token?: string }).token = undefined;
    createTransport(bot, "node-http");
    expect(buildUrl).toHaveBeenCalledWith("https://api.telegram.org", TOKEN, "getUpdates", "prod");
  });

  it('"grammy" calls bot.api.getUpdates (looked up on each call) with the parameters and signal', async () => {
    const bot = botLike();
    const transport = createTransport<{ update_id: number }>(bot, "grammy");
    const replaced = vi.fn(async () => [{ update_id: 1 }]);
    bot.api.getUpdates = replaced as never;
    const { signal: s } = signal();
    await expect(transport.getUpdates(params, s)).resolves.toEqual([{ update_id: 1 }]);
    expect(replaced).toHaveBeenCalledWith(params, s as unknown as GrammySignal);
    expect(state.received).toHaveLength(0);
    transport.close();
  });
});
