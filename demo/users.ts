/**
 * The demo's simulated users: a steady stream of messages over many chats, a
 * tenth of them from one flooding chat, some asking for slow work and a few
 * making the handler fail.
 */
import type { FakeBotApi } from "../src/testing/index.js";

/** The chat that sends a tenth of all messages. */
export const FLOOD_CHAT = 1;

const TICK_MS = 50;

export interface Users {
  /** Messages sent so far. */
  readonly sent: number;
  stop(): void;
}

/** Starts sending `total` messages at `rate` per second from `chats` chats to `api`. */
export function startUsers(api: FakeBotApi, total: number, chats: number, rate: number): Users {
  let sent = 0;
  const perTick = Math.ceil((rate * TICK_MS) / 1000);
  const timer = setInterval(() => {
    const batch = Math.min(perTick, total - sent);
    for (let i = 0; i < batch; i++, sent++) {
      const chat = sent % 10 === 0 ? FLOOD_CHAT : 2 + (sent % (chats - 1 || 1));
      const kind = sent % 97 === 0 ? "fail" : sent % 53 === 0 ? "slow" : "hi";
      api.pushMessage(chat, `${kind} ${sent}`);
    }
    if (sent >= total) clearInterval(timer);
  }, TICK_MS);
  return {
    get sent() {
      return sent;
    },
    stop: () => clearInterval(timer),
  };
}
