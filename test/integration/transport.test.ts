import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Bot } from "grammy";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../src/index.js";
import type { FakeBotApi } from "../../src/testing/index.js";
import { describeError } from "../../src/util/log.js";
import {
  botFor,
  failOnUnhandled,
  quiet,
  recordMessages,
  rejection,
  until,
  useFakeApi,
} from "../helpers/bot.js";

const ctx = useFakeApi();
failOnUnhandled();

afterEach(() => {
  vi.restoreAllMocks();
});

const TRANSPORTS = ["grammy", "node-http"] as const;

/** The methods API transformers see. */
function recordTransformed(bot: Bot): string[] {
  const methods: string[] = [];
  bot.api.config.use((prev, method, payload, signal) => {
    methods.push(method);
    return prev(method, payload, signal);
  });
  return methods;
}

function expectNoToken(api: FakeBotApi, texts: string[]): void {
  const secret = api.token.split(":")[1];
  for (const text of texts) {
    expect(text).not.toContain(api.token);
    expect(text).not.toContain(secret);
  }
}

describe('transport "node-http" with a real grammY bot', () => {
  it("handles updates, replies through grammY and confirms every offset", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen: number[] = [];
    bot.on("message", async (c) => {
      seen.push(c.update.update_id);
      await c.reply(`re: ${c.message.text}`);
    });
    api.pushMessages({ count: 250, chats: 5 });
    const handle = run(bot, { runner: { transport: "node-http" } });
    await until(() => seen.length === 250);
    await handle.stop();
    expect(seen.slice().sort((a, b) => a - b)).toEqual(
      Array.from({ length: 250 }, (_, i) => i + 1),
    );
    expect(api.calls("sendMessage")).toHaveLength(250);
    expect(api.stats.confirmedOffset).toBe(251);
    expect(api.stats.redelivered).toBe(0);
    expect(api.pending()).toBe(0);
    expect(handle.stats().fetched).toBe(250);
    expect(handle.stats().retries).toBe(0);
  });

  it("does not pass getUpdates through API transformers; other methods still go through them", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const methods = recordTransformed(bot);
    bot.on("message", (c) => c.reply("ok"));
    api.pushMessages({ count: 3 });
    const handle = run(bot, { runner: { transport: "node-http" } });
    await api.waitFor((a) => a.calls("sendMessage").length === 3);
    await handle.stop();
    expect(api.stats.getUpdatesCalls).toBeGreaterThanOrEqual(2);
    expect(methods).not.toContain("getUpdates");
    expect(methods).toContain("getMe");
    expect(methods.filter((m) => m === "sendMessage")).toHaveLength(3);
  });

  it('passes getUpdates through API transformers with the default "grammy"', async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const methods = recordTransformed(bot);
    const seen = recordMessages(bot);
    api.pushMessages({ count: 3 });
    const handle = run(bot, { runner: { transport: "grammy" } });
    await until(() => seen.length === 3);
    await handle.stop();
    expect(methods.filter((m) => m === "getUpdates").length).toBe(api.stats.getUpdatesCalls);
  });

  it("sends the final offset confirmation on stop itself", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const methods = recordTransformed(bot);
    const seen = recordMessages(bot);
    const handle = run(bot, { runner: { transport: "node-http", fetch: { timeout: 30 } } });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    api.pushMessages({ count: 3 });
    await until(() => seen.length === 3);
    await handle.stop();
    const [last] = api.calls("getUpdates");
    expect(last.params).toMatchObject({ offset: 4, limit: 1, timeout: 0 });
    expect(api.stats.confirmedOffset).toBe(4);
    expect(methods).not.toContain("getUpdates");
  });

  it("stop() aborts a held long poll at once", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const handle = run(bot, { runner: { transport: "node-http", fetch: { timeout: 30 } } });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await handle.stop();
    expect(performance.now() - started).toBeLessThan(500);
    await expect(handle.task()).resolves.toBeUndefined();
    // No final confirmation needed (nothing fetched), and no poll after the stop.
    api.pushMessage(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(api.stats.getUpdatesCalls).toBe(1);
    expect(api.pending()).toBe(1);
  });

  it("starts again after a stop, on a fresh connection", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.pushMessage(1);
    const handle = run(bot, { runner: { transport: "node-http" } });
    await until(() => seen.length === 1);
    await handle.stop();
    api.pushMessage(2);
    handle.start();
    await until(() => seen.length === 2);
    await handle.stop();
    expect(seen).toEqual([1, 2]);
    expect(api.stats.confirmedOffset).toBe(3);
  });

  it('honours client.environment "test"', async () => {
    const { api } = ctx;
    const bot = new Bot(api.token, { client: { apiRoot: api.url, environment: "test" } });
    const seen = recordMessages(bot);
    api.pushMessages({ count: 2 });
    const handle = run(bot, { runner: { transport: "node-http" } });
    await until(() => seen.length === 2);
    await handle.stop();
    expect(api.stats.confirmedOffset).toBe(3);
  });

  it("passes allowed_updates and the long-polling timeout", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const queries: string[] = [];
    bot.on("callback_query:data", (c) => void queries.push(c.callbackQuery.data));
    api.pushMessage(1, "ignored");
    api.pushCallbackQuery({ fromId: 1, data: "like" });
    const handle = run(bot, {
      runner: {
        transport: "node-http",
        fetch: { timeout: 7, allowed_updates: ["callback_query"] },
      },
    });
    await until(() => queries.length === 1);
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 2);
    expect(api.calls("getUpdates")[0].params).toMatchObject({
      timeout: 7,
      allowed_updates: ["callback_query"],
    });
    await handle.stop();
    expect(queries).toEqual(["like"]);
  });
});

describe.each(TRANSPORTS)("faults with transport %j", (transport) => {
  it("retries HTTP 500/502 answers and handles every update", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.inject({ type: "http", status: 500 }, { times: 2 });
    api.inject({ type: "http", status: 502 });
    api.pushMessages({ count: 20, chats: 4 });
    const handle = run(bot, { runner: { ...quiet, transport } });
    await until(() => seen.length === 20);
    expect(handle.stats().retries).toBe(3);
    expect(handle.stats().lastError).toMatch(/^502 Bad Gateway/);
    await handle.stop();
    expect(api.stats.confirmedOffset).toBe(21);
  });

  it("waits retry_after seconds after a 429", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.inject({ type: "retry_after", seconds: 1 });
    api.pushMessage(1);
    const handle = run(bot, { runner: { ...quiet, transport } });
    await api.waitFor((a) => a.stats.getUpdatesCalls === 1);
    const first = api.calls("getUpdates")[0].at;
    await until(() => seen.length === 1);
    await api.waitFor((a) => a.stats.getUpdatesCalls >= 2);
    // The latest call (the fake server keeps only that one) came after the wait.
    expect(api.calls("getUpdates")[0].at - first).toBeGreaterThanOrEqual(990);
    expect(handle.stats().retries).toBe(1);
    expect(handle.stats().lastError).toMatch(/^429 Too Many Requests: retry after 1/);
    await handle.stop();
  });

  it("ends with unauthorized on a 401, without the token anywhere", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    api.inject({ type: "http", status: 500 });
    api.inject({ type: "drop" });
    api.inject({ type: "unauthorized" });
    const handle = run(bot, { runner: { ...quiet, transport } });
    const error = await rejection(handle.task());
    expect(error.code).toBe("unauthorized");
    expect(handle.stats().retries).toBe(2);
    expect((error.cause as { error_code?: number }).error_code).toBe(401);
    expectNoToken(api, [
      error.message,
      String(error.stack),
      String((error.cause as Error).message),
      String((error.cause as Error).stack),
      describeError(error.cause),
      String(handle.stats().lastError),
    ]);
    expect(handle.isRunning()).toBe(false);
  });

  it("ends with conflict on a 409 from another poller", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    api.inject({ type: "conflict" });
    const handle = run(bot, { runner: { ...quiet, transport } });
    const error = await rejection(handle.task());
    expect(error.code).toBe("conflict");
  });

  it("deletes an active webhook and goes on", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    await bot.api.setWebhook("https://example.com/hook");
    const seen = recordMessages(bot);
    api.pushMessages({ count: 2 });
    const handle = run(bot, { runner: { ...quiet, transport } });
    await until(() => seen.length === 2);
    expect(api.calls("deleteWebhook")).toHaveLength(1);
    await handle.stop();
  });

  it.each([
    ["a null result", { type: "result", value: null }],
    ["a string result", { type: "result", value: "x" }],
    ["an HTML body", { type: "non_json" }],
    ["a dropped connection", { type: "drop" }],
  ] as const)("retries after %s and handles later updates", async (_, fault) => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen = recordMessages(bot);
    api.inject(fault, { times: 2 });
    const handle = run(bot, { runner: { ...quiet, transport } });
    await until(() => handle.stats().retries === 2);
    expect(handle.stats().lastError).toBeDefined();
    api.pushMessages({ count: 3 });
    await until(() => seen.length === 3);
    expect(handle.isRunning()).toBe(true);
    await handle.stop();
    expect(seen).toEqual([1, 2, 3]);
    expect(handle.stats().retries).toBe(2);
  });
});

describe('transport "node-http" and process exit', () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const outfile = join(
    root,
    "node_modules",
    ".cache",
    "grammy-runner-tests",
    "transport-child.mjs",
  );

  beforeAll(async () => {
    mkdirSync(join(outfile, ".."), { recursive: true });
    await build({
      stdin: { contents: CHILD, resolveDir: root, sourcefile: "transport-child.ts", loader: "ts" },
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node18",
      packages: "external",
      logLevel: "warning",
    });
  });

  /** Runs the child; rejects if it has not exited on its own within 8 s. */
  function child(mode: string): Promise<{ code: number | null; stdout: string }> {
    const { api } = ctx;
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [outfile, mode, api.url, api.token],
        { timeout: 8_000, killSignal: "SIGKILL" },
        (error, stdout, stderr) => {
          if (error?.killed)
            reject(new Error(`the child process did not exit: ${stdout} ${stderr}`));
          else resolve({ code: error === null ? 0 : (error.code as number), stdout });
        },
      );
    });
  }

  // The fake server keeps idle connections for 60 s: a kept-alive socket that
  // held the event loop would make these children outlive the 8 s limit.
  it("exits on its own after stop()", async () => {
    ctx.api.pushMessages({ count: 3 });
    const result = await child("run");
    expect(result).toEqual({ code: 0, stdout: "handled 3\n" });
    expect(ctx.api.stats.confirmedOffset).toBe(4);
  });

  it("exits on its own after a bare fetch, without close()", async () => {
    ctx.api.pushMessages({ count: 2 });
    const result = await child("fetch");
    expect(result).toEqual({ code: 0, stdout: "fetched 2\n" });
  });

  it("exits on its own when the runner fails", async () => {
    ctx.api.inject({ type: "unauthorized" });
    const result = await child("fail");
    expect(result).toEqual({ code: 0, stdout: "unauthorized\n" });
  });
});

const CHILD = `
import { Bot } from "grammy";
import { createUpdateFetcher, run } from "./src/index.ts";

const [mode, apiRoot, token] = process.argv.slice(2);
const bot = new Bot(token, { client: { apiRoot } });
if (mode === "fetch") {
  const fetchUpdates = createUpdateFetcher(bot, { transport: "node-http" });
  const updates = await fetchUpdates(10, new AbortController().signal);
  console.log("fetched " + updates.length);
} else {
  let handled = 0;
  bot.on("message", () => void handled++);
  const handle = run(bot, { runner: { transport: "node-http", silent: true } });
  if (mode === "run") {
    while (handled < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    await handle.stop();
    console.log("handled " + handled);
  } else {
    await handle.task().catch((error) => console.log(error.code));
  }
}
`;
