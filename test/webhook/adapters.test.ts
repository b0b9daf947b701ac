/**
 * The adapters against the real frameworks (exact dev dependencies), each
 * serving on 127.0.0.1 and fed by the fake server's webhook delivery.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { webhook } from "../../src/index.js";
import { botFor, failOnUnhandled, until } from "../helpers/bot.js";
import { message, post, SECRET, useWebhookApi } from "../helpers/webhook.js";

const ctx = useWebhookApi();
failOnUnhandled();

type Serve = (
  handle: ReturnType<typeof webhook>,
) => Promise<{ url: string; close: () => Promise<void> }>;

const frameworks: Record<string, Serve> = {
  express: async (handle) => {
    const app = express();
    app.post("/bot", handle.callback("express"));
    return listenOn((port) => app.listen(port, "127.0.0.1"));
  },
  "express with express.json()": async (handle) => {
    const app = express();
    app.post("/bot", express.json(), handle.callback("express"));
    return listenOn((port) => app.listen(port, "127.0.0.1"));
  },
  fastify: async (handle) => {
    const app = Fastify();
    app.post("/bot", handle.callback("fastify"));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/bot`, close: () => app.close() };
  },
  hono: async (handle) => {
    const app = new Hono();
    app.post("/bot", handle.callback("hono"));
    return listenOn((port) => serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }));
  },
};

async function listenOn(
  start: (port: number) => import("node:net").Server,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = start(0);
  if (!server.listening) await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bot`,
    close: () =>
      new Promise<void>((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

describe.each(Object.entries(frameworks))("the %s adapter", (_name, start) => {
  it("delivers the fake server's updates and refuses bad requests", async () => {
    const { api } = ctx;
    const bot = botFor(api);
    const seen: number[] = [];
    bot.on("message", (c) => void seen.push(c.update.update_id));
    const handle = webhook(bot, { secretToken: SECRET, silent: true });
    const server = await start(handle);
    try {
      await bot.api.setWebhook(server.url, { secret_token: SECRET });
      const updates = api.pushMessages({ count: 20, chats: 3 });
      await api.waitFor((a) => a.stats.webhookAnswered === 20);
      expect(seen.sort((a, b) => a - b)).toEqual(updates.map((u) => u.update_id));
      expect(api.stats.webhookResends).toBe(0);
      expect((await post(server.url, message(1_000), "wrong")).status).toBe(401);
      expect((await post(server.url, { nothing: 1 }, SECRET)).status).toBe(400);
      expect((await post(server.url, message(1_000), SECRET)).status).toBe(200);
      await until(() => seen.length === 21);
      await handle.stop();
      expect((await post(server.url, message(1_001), SECRET)).status).toBe(503);
    } finally {
      await server.close();
    }
  });
});
