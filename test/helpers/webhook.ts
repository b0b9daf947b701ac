import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Update } from "grammy/types";
import { afterEach, beforeEach } from "vitest";
import { createFakeBotApi, type FakeBotApi } from "../../src/testing/index.js";

/** A fake Bot API whose webhook delivery times out and retries fast, per test. */
export function useWebhookApi(timeoutMs = 2_000): { readonly api: FakeBotApi } {
  const box = {} as { api: FakeBotApi };
  beforeEach(async () => {
    box.api = await createFakeBotApi({ webhook: { timeoutMs, retryMs: 20, maxRetryMs: 200 } });
  });
  afterEach(async () => {
    await box.api.close();
  });
  return box;
}

/** Servers started by {@link listen}, closed after each test. */
const servers = new Set<Server>();
afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  servers.clear();
});

/** Serves `listener` on 127.0.0.1 at a random port; returns its URL. */
export async function listen(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer(listener);
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/bot`;
}

/** POSTs `body` to `url` with `secret`; resolves with the status. */
export async function post(
  url: string,
  body: unknown,
  secret?: string,
  init: { method?: string; raw?: string } = {},
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== undefined) headers["x-telegram-bot-api-secret-token"] = secret;
  const res = await fetch(url, {
    method: init.method ?? "POST",
    headers,
    body: init.method === "GET" ? undefined : (init.raw ?? JSON.stringify(body)),
  });
  return { status: res.status, text: await res.text() };
}

export const SECRET = "s3cret_token-1";

/** A text message update in the private chat `chat`. */
export function message(id: number, chat = 1): Update {
  return {
    update_id: id,
    message: {
      message_id: id,
      date: 0,
      chat: { id: chat, type: "private", first_name: "A" },
      from: { id: chat, is_bot: false, first_name: "A" },
      text: "hi",
    },
  };
}

/**
 * A round-robin load balancer in front of webhook replicas: each request goes
 * to the next of `targets` (which the test may change), and a replica that
 * cannot be reached is answered 502, so the fake server sends again later.
 * Returns its URL and how many requests each target got.
 */
export async function balancer(
  targets: string[],
): Promise<{ url: string; sent: Map<string, number> }> {
  let next = 0;
  const sent = new Map<string, number>();
  const url = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = targets[next++ % targets.length];
      sent.set(target, (sent.get(target) ?? 0) + 1);
      const headers: Record<string, string> = {};
      for (const name of ["content-type", "x-telegram-bot-api-secret-token"]) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      fetch(target, { method: req.method, headers, body: Buffer.concat(chunks) })
        .then(async (answer) => {
          const body = await answer.text();
          res.writeHead(answer.status, { "content-type": "application/json" }).end(body);
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  return { url, sent };
}
