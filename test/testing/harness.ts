import { Bot } from "grammy";
import { afterEach } from "vitest";
import { createFakeBotApi, type FakeBotApi, type Update } from "../../src/testing/index.js";

let current: FakeBotApi | undefined;

/** Closes each test's server after it, whatever the test left open. */
export function closeAfterEach(): void {
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
}

/** Starts the server the other helpers talk to. */
export async function start(options?: Parameters<typeof createFakeBotApi>[0]): Promise<FakeBotApi> {
  current = await createFakeBotApi(options);
  return current;
}

function api(): FakeBotApi {
  if (current === undefined) throw new Error("start() the fake Bot API first");
  return current;
}

export interface Answer {
  status: number;
  type: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for JSON bodies
  body: any;
}

/** A Bot API request with plain fetch. */
export async function call(method: string, params?: object, init?: RequestInit): Promise<Answer> {
  const { url, token } = api();
  const res = await fetch(`${url}/bot${token}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: params === undefined ? undefined : JSON.stringify(params),
    ...init,
  });
  const text = await res.text();
  const type = res.headers.get("content-type");
  return { status: res.status, type, body: type === "application/json" ? JSON.parse(text) : text };
}

export const ids = (updates: Update[]) => updates.map((u) => u.update_id);

/** A real grammY bot talking to the server. */
export function newBot(): Bot {
  const { url, token } = api();
  return new Bot(token, { client: { apiRoot: url } });
}
