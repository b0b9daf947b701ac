/**
 * A smoke suite for runtimes other than the machine's Node (Deno 2, Bun):
 * a plain script, no vitest, against the built package (`npm run build`
 * first) and the fake Bot API over loopback. Run it with
 * `deno run -A test/runtimes/smoke.ts` or `bun test/runtimes/smoke.ts`.
 * Prints one line per check and `smoke: N passed, N failed` last; exits 1
 * on any failure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bot } from "grammy";
import { distribute, fileJournal, isReplayed, run, sequentialize } from "grammy-runner";
import { createFetch } from "grammy-runner/fetch";
import { registerRunnerMetrics } from "grammy-runner/prometheus";
import { createFakeBotApi, type FakeBotApi } from "grammy-runner/testing";
import { Registry } from "prom-client";

const CHECK_TIMEOUT_MS = 15_000;

function assert(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + CHECK_TIMEOUT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function botFor(api: FakeBotApi): Bot {
  return new Bot(api.token, { client: { apiRoot: api.url } });
}

const QUIET = { runner: { fetch: { timeout: 0 }, silent: true } };

async function sequentialized(api: FakeBotApi): Promise<void> {
  const bot = botFor(api);
  const seen = new Map<number, number[]>();
  bot.use(sequentialize((ctx) => String(ctx.chat?.id)));
  bot.on("message", async (ctx) => {
    // Later messages finish sooner: only sequentialize keeps each chat in order.
    await new Promise((resolve) => setTimeout(resolve, (60 - ctx.message.message_id) % 5));
    seen.set(ctx.chat.id, [...(seen.get(ctx.chat.id) ?? []), ctx.message.message_id]);
  });
  const updates = api.pushMessages({ count: 60, chats: 3 });
  const handle = run(bot, QUIET);
  await until(() => handle.stats().handled === 60, "60 updates handled");
  await handle.stop();
  for (const [chat, ids] of seen)
    assert(ids.join() === [...ids].sort((a, b) => a - b).join(), `chat ${chat} out of order`);
  const last = updates[updates.length - 1].update_id;
  assert(
    api.stats.confirmedOffset === last + 1,
    `offset ${api.stats.confirmedOffset} not confirmed`,
  );
}

async function draining(api: FakeBotApi): Promise<void> {
  const bot = botFor(api);
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let done = 0;
  bot.on("message", async () => {
    await held;
    done++;
  });
  api.pushMessages({ count: 5 });
  const handle = run(bot, QUIET);
  await until(() => handle.size() === 5, "5 updates running");
  let stopped = false;
  const stopping = handle.stop().then(() => {
    stopped = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert(!stopped, "stop() resolved while handlers were still running");
  release();
  await stopping;
  assert(done === 5, `stop() resolved with ${done} of 5 handlers done`);
}

async function journaled(api: FakeBotApi): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "grammy-runner-smoke-"));
  try {
    const bot = botFor(api);
    const replayed: number[] = [];
    bot.on("message", (ctx) => {
      if (isReplayed(ctx.update)) replayed.push(ctx.update.update_id);
    });
    const updates = api.pushMessages({ count: 10 });
    const first = run(bot, { ...QUIET, journal: fileJournal(dir) });
    await until(() => first.stats().handled === 10, "10 journaled updates handled");
    await first.stop();
    // Leave an update as a crash would: appended, never settled.
    const journal = fileJournal(dir);
    const recovery = await journal.open();
    assert(recovery.pending.length === 0, `${recovery.pending.length} pending after a clean stop`);
    const next = updates[updates.length - 1].update_id + 1;
    const lost = { ...updates[0], update_id: next };
    await journal.append([lost], next + 1);
    await journal.close();
    const second = run(bot, { ...QUIET, journal: fileJournal(dir) });
    await until(() => second.stats().replayed === 1 && replayed.length === 1, "the replay");
    await second.stop();
    assert(replayed[0] === next, `replayed ${replayed[0]} instead of ${next}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function distributed(api: FakeBotApi): Promise<void> {
  const bot = botFor(api);
  const answers: string[] = [];
  bot.catch((error) => {
    answers.push(error.error instanceof Error ? error.error.message : String(error.error));
  });
  bot.use(distribute(new URL("./smoke-worker.mjs", import.meta.url), { count: 1 }));
  api.pushMessages({ count: 4 });
  const handle = run(bot, QUIET);
  await until(() => answers.length === 4, "4 answers from the worker");
  await handle.stop();
  // The worker's error comes back wrapped: "Worker 0 failed to handle update 1: worker saw msg 0".
  for (const text of ["msg 0", "msg 1", "msg 2", "msg 3"])
    assert(
      answers.some((a) => a.endsWith(`worker saw ${text}`)),
      `no answer for ${text}: ${answers.join("; ")}`,
    );
}

/** Bun's built-in `undici` cannot dispatch: there createFetch() must say so at once. */
function fastClient(): ReturnType<typeof createFetch> | undefined {
  if (!("Bun" in globalThis)) return createFetch({ connections: 4 });
  try {
    createFetch();
  } catch (error) {
    assert(String(error).includes("Bun provides its own"), `unclear error on Bun: ${error}`);
    return undefined;
  }
  throw new Error("createFetch() on Bun should throw");
}

async function fastClientWithMetrics(api: FakeBotApi): Promise<void> {
  const fetch = fastClient();
  const client = fetch === undefined ? { apiRoot: api.url } : { apiRoot: api.url, fetch };
  const bot = new Bot(api.token, { client });
  bot.on("message", (ctx) => ctx.reply("ok"));
  api.pushMessages({ count: 20 });
  const registry = new Registry();
  const handle = run(bot, QUIET);
  registerRunnerMetrics(handle, { registry });
  await until(() => handle.stats().handled === 20, "20 updates over createFetch()");
  await handle.stop();
  await fetch?.close();
  assert(api.calls("sendMessage").length === 20, "not every update was answered");
  const text = await registry.metrics();
  assert(text.includes("grammy_runner_updates_handled_total 20"), "handled_total is not 20");
  assert(
    text.includes("grammy_runner_handler_duration_seconds_count 20"),
    "histogram count is not 20",
  );
}

const CHECKS: Array<[string, (api: FakeBotApi) => Promise<void>]> = [
  ["run() with sequentialize", sequentialized],
  ["stop() drains", draining],
  ["journal replays", journaled],
  ["distribute() with a worker", distributed],
  [
    "createFetch() (undici; on Bun its clear error) and grammy-runner/prometheus",
    fastClientWithMetrics,
  ],
];

let passed = 0;
let failed = 0;
for (const [name, check] of CHECKS) {
  const api = await createFakeBotApi();
  try {
    await check(api);
    passed++;
    console.log(`ok ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
  } finally {
    await api.close();
  }
}
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
