// At-least-once delivery: with a journal, the updates that were fetched but not
// finished when the process died (a crash, the OOM killer, kill -9) are handled
// again on the next start, before new ones. A handler whose effect must happen
// once checks isReplayed() and its own record of what it did, by update_id.
// Run: npm run example -- journal (writes ./data; BOT_TOKEN=... for Telegram)
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { Bot } from "grammy";
import { fileJournal, isReplayed, run, sequentialize } from "grammy-runner";
import { connect, runUntilStopped, simulateUsers } from "./support.js";

// The updates whose order was placed, one update_id a line. A real bot keeps
// this in its database, written in the same transaction as the order.
const ORDERS = "./data/orders-placed.txt";

async function main(): Promise<void> {
  mkdirSync("./data", { recursive: true });
  const placed = new Set(
    existsSync(ORDERS) ? readFileSync(ORDERS, "utf8").split("\n").filter(Boolean).map(Number) : [],
  );
  const connection = await connect();
  const bot = new Bot(connection.token, connection.config);
  // Per-chat order also holds across a restart: replayed updates come first, in order.
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.command("order", async (ctx) => {
    const id = ctx.update.update_id;
    const item = ctx.match || "coffee";
    if (isReplayed(ctx.update) && placed.has(id)) return; // placed before the crash
    appendFileSync(ORDERS, `${id}\n`); // place the order and record it, once
    placed.add(id);
    await ctx.reply(
      isReplayed(ctx.update) ? `Sorry for the wait: ${item} ordered.` : `${item} ordered.`,
    );
  });

  // A clean stop finishes and confirms everything: nothing is left to replay.
  const handle = run(bot, { journal: fileJournal("./data/journal") });
  simulateUsers(connection, (i) => (i % 2 === 0 ? "/order tea" : "/order"));
  await runUntilStopped(connection, handle);
}

void main();
