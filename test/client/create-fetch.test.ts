import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, type Dispatcher } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BotApiFetch, createFetch, FetchError } from "../../src/client/index.js";

/** A plain HTTP server recording each request's method, path, headers and body. */
let server: Server;
let base = "";
const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
let fetchFn: BotApiFetch;

beforeEach(async () => {
  seen.length = 0;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(req.url === "/missing" ? 404 : 200, {
        "content-type": "application/json",
        "x-twice": ["a", "b"],
      });
      res.end(JSON.stringify({ ok: true, result: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fetchFn = createFetch();
});

afterEach(async () => {
  await fetchFn.close();
  await new Promise((resolve) => server.close(resolve));
});

describe("createFetch()", () => {
  it("sends method, path, query, headers (without connection) and body as given", async () => {
    const res = await fetchFn(`${base}/bot1:x/getMe?a=1`, {
      method: "POST",
      headers: { "content-type": "application/json", connection: "keep-alive", "x-extra": "1" },
      body: '{"q":1}',
    });
    expect(await res.json()).toEqual({ ok: true, result: "/bot1:x/getMe?a=1" });
    expect(seen[0]).toMatchObject({ method: "POST", url: "/bot1:x/getMe?a=1", body: '{"q":1}' });
    expect(seen[0].headers["x-extra"]).toBe("1");
    expect(seen[0].headers["content-type"]).toBe("application/json");
    expect(seen[0].headers.connection).toBe("keep-alive");
    // grammY's own JSON headers, whose undici form is shared, stay without the extra one.
    await fetchFn(`${base}/bot1:x/getMe`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(seen[1].headers["content-type"]).toBe("application/json");
    expect(seen[1].headers["x-extra"]).toBeUndefined();
  });

  it("answers with status, ok, headers, text and arrayBuffer", async () => {
    const res = await fetchFn(new URL(`${base}/missing`), { method: "GET" });
    expect(res).toMatchObject({ status: 404, statusText: "Not Found", ok: false });
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.get("x-twice")).toBe("a, b");
    expect(res.headers.get("x-none")).toBeNull();
    const text = await res.text();
    expect(text).toBe('{"ok":true,"result":"/missing"}');
    expect(new TextDecoder().decode(await res.arrayBuffer())).toBe(text);
  });

  it("rejects bad URLs and a signal aborted before the call, sending nothing", async () => {
    await expect(fetchFn("not a url")).rejects.toThrow("createFetch(): invalid URL not a url");
    await expect(fetchFn("file:///etc/passwd")).rejects.toThrow(
      "only http: and https: URLs can be fetched",
    );
    const controller = new AbortController();
    controller.abort();
    const error = await fetchFn(`${base}/bot123:secret/getMe`, { signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FetchError);
    expect(error).toMatchObject({
      type: "aborted",
      message: `request to ${base}/bot<token>/getMe was aborted`,
    });
    expect(seen).toHaveLength(0);
  });

  it("sends through a given dispatcher, which close() leaves open", async () => {
    const agent = new Agent();
    let dispatched = 0;
    const counting = {
      dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => {
        dispatched++;
        return agent.dispatch(options, handler);
      },
    } as unknown as Dispatcher;
    const viaAgent = createFetch({ dispatcher: counting });
    await (await viaAgent(`${base}/a`, { method: "POST", body: "{}" })).json();
    await viaAgent.close();
    await (await viaAgent(`${base}/b`, { method: "POST", body: "{}" })).json();
    expect(dispatched).toBe(2);
    await agent.close();
  });
});
