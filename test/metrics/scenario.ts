import type { Update } from "grammy/types";
import { type RunHandle, run, type UpdateJournal } from "../../src/index.js";
import type { FakeBotApi } from "../../src/testing/index.js";
import { botFor, until } from "../helpers/bot.js";

/** What {@link runScenario} did, to compare with what the exporters report. */
export interface Scenario {
  handle: RunHandle;
  fetched: number;
  replayed: number;
  failed: number;
  timedOut: number;
  invalid: number;
  journalAppends: number;
  concurrency: number;
}

const FETCHED = 120;
const REPLAYED = 3;
const CONCURRENCY = 50;

/** An update the journal hands back as if a crash had left it unhandled. */
function leftOver(i: number): Update {
  const chat = { id: 900 + i, type: "private" as const, first_name: "Left" };
  return {
    update_id: 1_000_000 + i,
    message: {
      message_id: i + 1,
      date: 0,
      chat,
      from: { id: chat.id, is_bot: false, first_name: "Left" },
      text: `msg ${i + 1}`,
    },
  };
}

/**
 * Runs a real grammY bot against the fake server through a journal that
 * replays {@link REPLAYED} updates: 120 messages plus one invalid update,
 * every tenth message failing, one handler outlasting the timeout. Calls
 * `attach` with the handle before anything is handled, and resolves once
 * everything is done and the runner stopped.
 */
export async function runScenario(
  api: FakeBotApi,
  attach: (handle: RunHandle) => void,
): Promise<Scenario> {
  const bot = botFor(api);
  let appends = 0;
  let handledSlow = false;
  bot.on("message:text", async (c) => {
    const n = Number(c.message.text.split(" ")[1]);
    if (n === 7) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      handledSlow = true;
    }
    if (n % 10 === 0) throw new Error(`message ${n} fails`);
  });
  bot.catch(() => {});
  const journal: UpdateJournal = {
    open: async () => ({
      pending: Array.from({ length: REPLAYED }, (_, i) => leftOver(i)),
      offset: undefined,
    }),
    append: async () => {
      appends++;
    },
    settle: () => {},
    flush: async () => {},
    close: async () => {},
  };
  api.pushMessages({ count: FETCHED / 2, chats: 6 });
  api.pushRaw({});
  api.pushMessages({ count: FETCHED / 2, chats: 6, text: (i) => `msg ${i + FETCHED / 2}` });
  const handle = run(bot, {
    journal,
    runner: { fetch: { timeout: 0 }, silent: true },
    sink: { concurrency: CONCURRENCY, timeout: { milliseconds: 50, handler: () => {} } },
  });
  attach(handle);
  await until(() => handle.stats().handled === FETCHED + REPLAYED && handledSlow);
  await handle.stop();
  return {
    handle,
    fetched: FETCHED,
    replayed: REPLAYED,
    failed: FETCHED / 10,
    timedOut: 1,
    invalid: 1,
    journalAppends: appends,
    concurrency: CONCURRENCY,
  };
}
