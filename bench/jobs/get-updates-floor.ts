/** get-updates-floor: grammY's own cost of fetching updates, without a runner or handlers. */
import type { JobOf, Metrics, ServerAddress } from "../protocol.js";
import { fakeServerBot } from "./implementations.js";
import { startSpan } from "./usage.js";

export async function getUpdatesFloor(
  job: JobOf<"get-updates-floor">,
  srv: ServerAddress | undefined,
): Promise<Metrics> {
  const bot = await fakeServerBot(srv, { count: job.updates, chats: job.chats, firstChatId: 1 });
  let offset = 0;
  let got = 0;
  let calls = 0;
  const span = startSpan();
  while (got < job.updates) {
    const updates = await bot.api.getUpdates({ offset, limit: 100, timeout: 0 });
    calls++;
    got += updates.length;
    if (updates.length > 0) offset = updates[updates.length - 1].update_id + 1;
  }
  const { seconds, cpu } = span();
  // Confirm the last batch, like a runner would.
  await bot.api.getUpdates({ offset, limit: 1, timeout: 0 });
  return {
    updates: got,
    rate: got / seconds,
    cpu: cpu / got,
    calls: (calls / got) * 1000,
  };
}
