/** handle-update-floor: grammY's own cost of handling an update, without HTTP or a runner. */
import { Bot } from "grammy";
import type { Update } from "grammy/types";
import { botInfoFor } from "../../src/testing/builders.js";
import type { JobOf, Metrics } from "../protocol.js";
import { startSpan } from "./usage.js";

const FLOOR_BOT_INFO = botInfoFor("123456789:floor", {});

/** The same updates the fake server's `pushMessages` makes (private chats, round-robin). */
function makeUpdates(count: number, chats: number): Update[] {
  const date = Math.floor(Date.now() / 1000);
  const updates: Update[] = [];
  for (let i = 0; i < count; i++) {
    const id = 1 + (i % chats);
    updates.push({
      update_id: i + 1,
      message: {
        message_id: i + 1,
        date,
        chat: { id, type: "private", first_name: `User ${id}` },
        from: { id, is_bot: false, first_name: `User ${id}` },
        text: `msg ${i}`,
      },
    });
  }
  return updates;
}

export async function handleUpdateFloor(job: JobOf<"handle-update-floor">): Promise<Metrics> {
  const bot = new Bot("123456789:TEST_TOKEN_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {
    botInfo: FLOOR_BOT_INFO,
  });
  let done = 0;
  bot.use(() => {
    done++;
  });
  const updates = makeUpdates(job.updates, job.chats);
  const span = startSpan();
  for (const update of updates) await bot.handleUpdate(update);
  const { seconds, cpu } = span();
  if (done !== job.updates) throw new Error(`handled ${done} of ${job.updates}`);
  return { updates: job.updates, rate: job.updates / seconds, cpu: cpu / job.updates };
}
